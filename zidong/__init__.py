"""zidong: a MindSpore-native tri-modal (image, text, speech) foundation model."""
__version__ = "0.1.0"
