"""siteselect: smart site selection for business registration."""

import pandas as pd

# pandas keeps text in pyarrow arrays when pyarrow is installed (the batch needs it for Parquet),
# and pyarrow refuses lone surrogates outright; kept as Python strings, hostile text reaches the
# validation that names it.
pd.set_option("mode.string_storage", "python")

__version__ = "0.1.0"
