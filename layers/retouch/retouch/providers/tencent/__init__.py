"""The Tencent Cloud adapters, through tencentcloud-sdk-python (one service package each):

- `TencentProvider` (key `tencent`, `edits`): the synchronous edit actions, one per feature;
  the result image comes back in the answer.
- `HunyuanProvider` (key `hunyuan`, `hunyuan`): Hunyuan image jobs, submitted then polled.

Both share `cloud`: credentials, one lazily built SDK client per service and the mapping of
Tencent's error codes onto the port's errors. Importing this package loads no `tencentcloud`.
"""

from __future__ import annotations

from retouch.providers.tencent.cloud import classify
from retouch.providers.tencent.edits import TencentProvider
from retouch.providers.tencent.hunyuan import HunyuanProvider

__all__ = ["HunyuanProvider", "TencentProvider", "classify"]
