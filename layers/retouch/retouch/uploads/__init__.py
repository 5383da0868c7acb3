"""Uploads: presigned uploads into the caller's own prefix, and the check of what arrived.

`POST /v1/uploads` records a `pending` upload and presigns its object; the upload trigger
(`handlers.handle_object_created`) reads the object, checks it (`inspection`) and marks the
upload `ready` or `rejected`.
"""
