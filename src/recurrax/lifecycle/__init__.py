"""The model lifecycle around training: registry, tracking, re-training, hyperparameter search."""
