"""MXNet's model formats in plain Python (numpy, no MXNet): the ``.params`` weights file, the
``-symbol.json`` network description of the Image Classification algorithm's ResNet, and the
mapping between those weights and the PyTorch network of :mod:`sagewiz.core.local.resnet`."""
