"""OmegaConf resolvers the configs use; importing this module registers them."""

from omegaconf import OmegaConf

OmegaConf.register_new_resolver("len", lambda value: len(value), replace=True)
