"""The signature of a captured function, and how its arguments are filled from the config."""

import inspect
from collections import OrderedDict

from sacred.utils import MissingConfigError, SignatureError

__all__ = ["Signature", "get_argspec"]

_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


def get_argspec(f):
    """``(args, vararg_name, kw_wildcard_name, pos_args, kwargs)`` of a callable.

    ``args`` lists all named parameters in order (keyword-only ones included),
    ``pos_args`` the positional ones without a default (keyword-only parameters are not
    positional), ``kwargs`` maps names to their defaults.
    """
    sig = inspect.signature(f)
    args, pos_args = [], []
    kwargs = OrderedDict()
    vararg_name = kw_wildcard_name = None
    for name, param in sig.parameters.items():
        if param.kind == inspect.Parameter.VAR_POSITIONAL:
            vararg_name = name
        elif param.kind == inspect.Parameter.VAR_KEYWORD:
            kw_wildcard_name = name
        else:
            args.append(name)
            if param.default is not inspect.Parameter.empty:
                kwargs[name] = param.default
            elif param.kind in _POSITIONAL:
                pos_args.append(name)
    return args, vararg_name, kw_wildcard_name, pos_args, kwargs


class Signature:
    """Names and defaults of a function's parameters.

    ``construct_arguments`` completes a call: explicit arguments stay, every other
    parameter is taken from ``options`` (the config) if present there, else from its
    default.
    """

    def __init__(self, f):
        self.name = f.__name__
        args, vararg_name, kw_wildcard_name, pos_args, kwargs = get_argspec(f)
        self.arguments = args
        self.vararg_name = vararg_name
        self.kw_wildcard_name = kw_wildcard_name
        self.positional_args = pos_args
        self.kwargs = kwargs
        params = inspect.signature(f).parameters
        # parameters that can receive positional arguments (not keyword-only ones)
        self._positional = [n for n in args if params[n].kind in _POSITIONAL]

    def _expected(self, bound):
        """(all parameter names, positional-capable names) excluding ``self`` if bound."""
        if bound:
            # the instance is passed automatically as the first argument
            return self.arguments[1:], self._positional[1:]
        return self.arguments, self._positional

    def get_free_parameters(self, args, kwargs, bound=False):
        """Parameter names given neither positionally nor as keyword."""
        expected, positional = self._expected(bound)
        taken = set(positional[: len(args)])
        return [a for a in expected if a not in taken and a not in kwargs]

    def construct_arguments(self, args, kwargs, options, bound=False):
        """Return ``(args, kwargs)`` completed from ``options`` and the defaults.

        Raises SignatureError for unexpected or duplicate arguments, and
        MissingConfigError if a parameter has neither a value nor a default.
        """
        expected, positional = self._expected(bound)
        args = list(args)
        kwargs = dict(kwargs)
        if not self.vararg_name and len(args) > len(positional):
            raise SignatureError(
                f"{self.name} got unexpected argument(s): {args[len(positional) :]}"
            )
        if not self.kw_wildcard_name:
            unexpected = set(kwargs) - set(expected)
            if unexpected:
                raise SignatureError(f"{self.name} got unexpected kwarg(s): {sorted(unexpected)}")
        duplicates = [a for a in positional[: len(args)] if a in kwargs]
        if duplicates:
            raise SignatureError(f"{self.name} got multiple values for argument(s) {duplicates}")

        missing = []
        for param in self.get_free_parameters(args, kwargs, bound):
            if param in options:
                kwargs[param] = options[param]
            elif param not in self.kwargs:
                missing.append(param)
        if missing:
            raise MissingConfigError(f"{self.name} is missing value(s):", missing_configs=missing)
        return args, kwargs

    def __str__(self):
        parts = list(self.positional_args)
        if self.vararg_name:
            parts.append("*" + self.vararg_name)
        # keyword-only parameters without a default (not positional, no default either)
        parts.extend(
            a for a in self.arguments if a not in self.positional_args and a not in self.kwargs
        )
        parts.extend(f"{name}={value!r}" for name, value in self.kwargs.items())
        if self.kw_wildcard_name:
            parts.append("**" + self.kw_wildcard_name)
        return f"{self.name}({', '.join(parts)})"

    def __repr__(self):
        return f"<Signature at 0x{id(self):x} for '{self.name}'>"
