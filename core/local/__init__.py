"""The local backend: the Image Classification algorithm's network, preprocessing and training in PyTorch."""
