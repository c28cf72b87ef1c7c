"""The local backend: the Image Classification algorithm's network, preprocessing and training in PyTorch.

Importing it sets how torch's OpenMP threads wait, before any module here imports torch (OpenMP
reads the setting once, when torch loads it). By default those threads spin on the cores while
they wait for work, so beside any other busy process (a browser, a second training, the endpoint)
each side spins against the other: a ResNet-20 training step ran 1.2 images/s that way on this
2-core machine under load, and 58 images/s with waiting threads that sleep instead
(docs/benchmarks.md, "A busy computer"). A value the user set is kept.
"""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
