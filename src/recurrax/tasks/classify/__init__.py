"""Sequence classification: variable-length multivariate sequences -> one class per sequence.

    >>> from recurrax.tasks import classify
    >>> cfg = classify.ClassifyConfig()                                       # doctest: +SKIP
    >>> run = classify.fit_classifier(cfg, "runs/vowels")                     # doctest: +SKIP
    >>> classify.evaluate_classifier("runs/vowels", split="test")["accuracy"]  # doctest: +SKIP
    >>> names, probabilities = classify.predict_classifier("runs/vowels", xs, lengths)  # doctest: +SKIP

Pieces: the model (`SequenceClassifier`: any cell, (bi)directional, last / mean / attention pooling, an
optional convolution branch; `ClassifierEnsemble` of several trained as one program), training-time
augmentation (`Augmentation`, `augment`, `augmented_loss`), the
loss and metrics (`classify_loss`, `weighted_cross_entropy`, `accuracy`, `macro_f1`, `confusion_matrix`,
`write_confusion_png`), data (`read_cases`, `prepare`, `Batches`; ``.ts`` sets from `recurrax.data`),
configs (`ClassifyConfig`, `ModelConfig`, `DataConfig`, `SelectConfig`), the choice of setting by
cross-validation on the training cases inside `fit_classifier` (`select_setting`, `CANDIDATES`) and runs (`fit_classifier`, `evaluate_classifier`,
`predict_classifier`, `load_classifier`); `evaluate_protocol`, the evaluator of benchmark protocols.
"""

from ._augment import Augmentation as Augmentation
from ._augment import augment as augment
from ._augment import augmented_loss as augmented_loss
from ._config import CANDIDATES as CANDIDATES
from ._config import ClassifyConfig as ClassifyConfig
from ._config import DataConfig as DataConfig
from ._config import ModelConfig as ModelConfig
from ._config import SelectConfig as SelectConfig
from ._data import Batches as Batches
from ._data import Cases as Cases
from ._data import ClassificationData as ClassificationData
from ._data import class_weights as class_weights
from ._data import prepare as prepare
from ._data import read_cases as read_cases
from ._ensemble import ClassifierEnsemble as ClassifierEnsemble
from ._ensemble import ensemble_classify_loss as ensemble_classify_loss
from ._fit import cv_folds as cv_folds
from ._fit import fit_classifier as fit_classifier
from ._fit import fit_on_raw as fit_on_raw
from ._fit import resolve as resolve
from ._fit import select_setting as select_setting
from ._inference import class_probabilities as class_probabilities
from ._inference import classify_inference as classify_inference
from ._inference import predict_classifier as predict_classifier
from ._metrics import accuracy as accuracy
from ._metrics import classify_loss as classify_loss
from ._metrics import confusion_matrix as confusion_matrix
from ._metrics import macro_f1 as macro_f1
from ._metrics import weighted_cross_entropy as weighted_cross_entropy
from ._metrics import write_confusion_png as write_confusion_png
from ._model import SequenceClassifier as SequenceClassifier
from ._model import series_normalise as series_normalise
from ._protocol import evaluate_protocol as evaluate_protocol
from ._run import ClassifyRun as ClassifyRun
from ._run import LoadedClassifier as LoadedClassifier
from ._run import build_model as build_model
from ._run import evaluate_classifier as evaluate_classifier
from ._run import load_classifier as load_classifier
from ._run import predict_logits as predict_logits
from ._run import train_classifier as train_classifier
from ._retrain import challenge_classify as challenge_classify
from ._retrain import holdout_scores as holdout_scores
from ._retrain import warm_fit_classifier as warm_fit_classifier
