"""The original Labwatch's converter names (``labwatch.converters.convert_to_configspace``).

``sacred_space_to_configspace(space)`` is ``configspace.to_configspace``;
``sacred_config_to_configspace(cs, config)`` is ``configspace.values_to_configuration`` (a
ValueError unless ``cs`` is the ConfigurationSpace of the search space);
``configspace_config_to_sacred(config)`` is ``configspace.configuration_to_values`` (inactive
parameters left out).
"""

from __future__ import annotations

from labwatch.converters.configspace import (
    configuration_to_values,
    to_configspace,
    values_to_configuration,
)

__all__ = (
    "sacred_space_to_configspace",
    "sacred_config_to_configspace",
    "configspace_config_to_sacred",
)


def sacred_space_to_configspace(space, seed=None):
    return to_configspace(space, seed=seed)


def sacred_config_to_configspace(cs, config: dict):
    return values_to_configuration(cs, config)


def configspace_config_to_sacred(config) -> dict:
    return configuration_to_values(config)
