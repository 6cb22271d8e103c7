"""Temporarily replace a method of a class with a decorated version of it."""

import functools


class ContextMethodDecorator:
    """Within a ``with`` block, ``classx.method_name`` goes through ``decorator_func``.

    The replacement calls ``decorator_func(instance, original_method, args, kwargs)``.
    A method that is already patched (by an enclosing block) is left alone, and the
    original is put back on exit, also when the block raises.
    """

    def __init__(self, classx, method_name, decorator_func):
        self.classx = classx
        self.method_name = method_name
        self.decorator_func = decorator_func
        self.patched_by_me = False

    @property
    def _marker(self):
        return f"sacred_patched{self.__class__.__name__}"

    def __enter__(self):
        self.original_method = getattr(self.classx, self.method_name)
        if getattr(self.original_method, self._marker, False):
            self.patched_by_me = False
            return self

        original_method = self.original_method
        decorator_func = self.decorator_func

        @functools.wraps(original_method)
        def decorated(instance, *args, **kwargs):
            return decorator_func(instance, original_method, args, kwargs)

        setattr(decorated, self._marker, True)
        setattr(self.classx, self.method_name, decorated)
        self.patched_by_me = True
        return self

    def __exit__(self, exc_type, exc_value, traceback):
        if self.patched_by_me:
            setattr(self.classx, self.method_name, self.original_method)
            self.patched_by_me = False
        return False
