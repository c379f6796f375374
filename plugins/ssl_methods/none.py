"""No self-supervised pretraining (supervised from scratch, or a probe on a random-init encoder)."""
from harness import SSLMethod, hookimpl


class NoPretraining(SSLMethod):
    """No SSL pretraining: the encoder starts from its own initialisation (random or ImageNet weights)."""

    default = True
    pretrains = False

    def build(self, backbone, num_features: int):
        raise RuntimeError("the 'none' SSL method has no pretraining module: no pretrain stage runs for it")


@hookimpl
def register_ssl_methods(register):
    register("none", NoPretraining)
