"""Built-in pipeline steps, one module each; importing this package registers them all."""

from bridge.steps import (  # noqa: F401
    call,
    case,
    coerce,
    date,
    drop,
    embed,
    encrypt,
    hash,
    map_values,
    python,
    rename,
    require,
    set,
    sign,
    template,
    validate,
    wrap,
)
