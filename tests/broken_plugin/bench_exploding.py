"""An SSL method whose loss raises mid-cell."""
from harness import SSLMethod, hookimpl


class Exploding(SSLMethod):
    """Raises RuntimeError on its first step (for the failure-containment tests)."""

    def build(self, backbone, num_features):
        from torch import nn

        class _Boom(nn.Module):
            def __init__(self):
                super().__init__()
                self.backbone = backbone

            def forward(self, v1, v2):
                raise RuntimeError("boom in the SSL step")

        return _Boom()


@hookimpl
def register_ssl_methods(register):
    register("exploding", Exploding)
