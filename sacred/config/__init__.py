"""The configuration system: config scopes, config dicts, config files, captured functions."""

from sacred.config.captured_function import create_captured_function
from sacred.config.config_dict import ConfigDict
from sacred.config.config_files import load_config_file, save_config_file
from sacred.config.config_scope import ConfigScope
from sacred.config.utils import chain_evaluate_config_scopes, dogmatize, undogmatize

__all__ = (
    "ConfigDict",
    "ConfigScope",
    "load_config_file",
    "save_config_file",
    "create_captured_function",
    "chain_evaluate_config_scopes",
    "dogmatize",
    "undogmatize",
)
