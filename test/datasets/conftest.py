"""Fixtures for the dataset-loader tests."""
import torch

torch.set_num_threads(1)
