"""Image vendors behind one port (`retouch.providers.port.Provider`): `local` (classical
OpenCV, offline), `simulator` (an HTTP stand-in for an asynchronous vendor), `tencent` and
`hunyuan` (Tencent Cloud AI and Hunyuan, `tencent.py`); the other real vendors follow.
Adapters import their SDKs and OpenCV on first use only."""
