"""The operator's settings of the RunningHub provider (`provider_configs.options`): which
RunningHub task serves each feature and which node fields receive the form's inputs.

A pydantic model only (no HTTP, no SDK), so the admin API validates an operator's input with
it and the docs are written from its field docstrings (they become the JSON schema's
descriptions). It holds no secret: the API key is resolved from the row's `credential_ref`.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, field_validator

from retouch.core.schemas import RequestSchema

_HOST = re.compile(r"^\.?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$")
FieldValue = str | int | float | bool


class _Options(RequestSchema):
    model_config = ConfigDict(use_attribute_docstrings=True)


class NodeField(_Options):
    """One input of a ComfyUI node: where a value goes in `nodeInfoList`."""

    node_id: str = Field(min_length=1)
    """The node's id in the workflow, e.g. `12`."""
    field_name: str = Field(min_length=1)
    """The node's input that takes the value, e.g. `image`, `text`, `seed`."""


class NodeConstant(NodeField):
    """A `nodeInfoList` entry sent with every task of the feature (a fixed prompt, a seed)."""

    field_value: FieldValue
    """The value sent as `fieldValue`."""


class _FeatureTask(_Options):
    images: dict[str, NodeField] = Field(default_factory=dict)
    """Form upload field → the node input that receives the image, typically a `LoadImage`
    node's `image`. The value sent is a short-lived presigned GET URL of our storage, which
    RunningHub downloads. A field the task lacks (an optional upload) is left out."""
    params: dict[str, NodeField] = Field(default_factory=dict)
    """Form parameter → the node input that receives its value as given. Parameters not
    listed are not sent; one the task lacks is left out (the workflow's default applies)."""
    constants: tuple[NodeConstant, ...] = ()
    """Fixed `nodeInfoList` entries, sent before the images and params."""
    upload: bool = False
    """Send the images through RunningHub's upload API (`/task/openapi/upload`, at most 30 MB
    a file) and pass the returned file name instead of a URL: for a storage RunningHub cannot
    reach. We download each image from its presigned URL first."""


class WorkflowTask(_FeatureTask):
    """A ComfyUI workflow, run by `POST /task/openapi/create`."""

    mode: Literal["workflow"]
    """`workflow`: a workflow task."""
    workflow_id: str = Field(min_length=1)
    """The workflow's id (`workflowId`), as in its RunningHub URL."""


class AppTask(_FeatureTask):
    """An AI app, run by `POST /task/openapi/ai-app/run`."""

    mode: Literal["app"]
    """`app`: an AI-app task."""
    webapp_id: int = Field(gt=0)
    """The AI app's id (`webappId`, a 64-bit integer)."""


FeatureTask = Annotated[WorkflowTask | AppTask, Field(discriminator="mode")]


class RunningHubOptions(_Options):
    """How RunningHub serves our features. A feature not listed is not served by RunningHub:
    its tasks fall back to the next provider of the chain."""

    features: dict[str, FeatureTask] = Field(default_factory=dict)
    """Feature key (`cutout`, `eraser`, ...) → the RunningHub task that serves it."""
    instance_type: str | None = Field(default=None, min_length=1)
    """`instanceType` of every task (e.g. `plus` for a 48 GB machine); unset: RunningHub's
    default machine."""
    result_hosts: tuple[str, ...] | None = None
    """Hosts our `store` step may download results from: exact host names, or `.domain` for
    any host under a domain (RunningHub serves result files from CDN hosts that depend on the
    deployment). Unset: only the API endpoint's host."""

    @field_validator("result_hosts")
    @classmethod
    def _hosts(cls, hosts: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if hosts is None:
            return None
        lowered = tuple(host.strip().lower() for host in hosts)
        if not lowered:
            raise ValueError("list at least one host, or leave result_hosts unset")
        for host in lowered:
            if not _HOST.match(host):
                raise ValueError(f"not a host name or .domain: {host!r}")
        return lowered
