"""Deployment: portable exported models (StableHLO + safetensors + JSON), the HTTP service, monitoring."""
