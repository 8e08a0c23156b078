"""A tiny autograd engine and neural-network library (after Karpathy's micrograd)."""
from .engine import Value
from .nn import MLP, Layer, Module, Neuron

__all__ = ["Value", "Module", "Neuron", "Layer", "MLP"]
