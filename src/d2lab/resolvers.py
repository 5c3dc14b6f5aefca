"""OmegaConf resolvers the configs use; importing this module registers them."""

import math

from omegaconf import OmegaConf

OmegaConf.register_new_resolver("len", lambda value: len(value), replace=True)
OmegaConf.register_new_resolver("prod", lambda *factors: math.prod(factors), replace=True)
