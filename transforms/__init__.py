"""The integrator's own folder: glossaries (field dictionaries) and custom `python` steps.

A `python` step names `transforms.module:function`; the function takes a Message and returns it.
"""
