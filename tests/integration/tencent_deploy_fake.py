"""A loopback stand-in for the Tencent Cloud APIs `scripts/deploy tencent` calls: SCF
(2018-04-16) and API Gateway (2018-08-08), state in memory.

Every request's TC3-HMAC-SHA256 signature is checked (`tencent_sts_fake.tc3_signature_error`,
the key pair of `cos_fake`); the service comes from the credential scope and must match the
action's service and version. Each action's fields are checked as the API documents them
(names, required fields, valid values, that a named function, layer version or service
exists), and refused with the documented `{"Response": {"Error": {Code, Message}}}` shape.
Every accepted call is recorded (`FakeTencentDeploy.calls`) for the test to read.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import re
import secrets
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.integration.cos_fake import serving
from tests.integration.tencent_sts_fake import tc3_signature_error, write_response

VERSIONS = {"scf": "2018-04-16", "apigateway": "2018-08-08"}
RUNTIMES = {"Python3.6", "Python3.7", "Python3.9", "Python3.10"}
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,58}[A-Za-z0-9]")
#: CLS logset and topic ids are UUIDs.
_CLS_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_CRON = re.compile(r"(\S+ ){6}\S+")
_COS_DOMAIN = re.compile(r"[a-z0-9-]+-\d+\.cos\.[a-z-]+\.myqcloud\.com")
Params = dict[str, Any]


class Refused(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


@dataclass
class FakeTencentDeploy:
    """The fake's state: namespaces, layers, functions with code and triggers, API Gateway
    services with their APIs and releases, and every accepted call in order."""

    calls: list[tuple[str, str, Params]] = field(default_factory=list)
    namespaces: set[str] = field(default_factory=lambda: {"default"})
    layers: dict[str, list[Params]] = field(default_factory=dict)
    functions: dict[tuple[str, str], Params] = field(default_factory=dict)
    services: dict[str, Params] = field(default_factory=dict)
    #: API Gateway plugins by id: name, type, data and the (service, environment, api) bound.
    plugins: dict[str, Params] = field(default_factory=dict)
    #: What a synchronous Invoke returns, by function name (default: null).
    invoke: Callable[[str, Params], Any] = lambda _name, _event: None
    url: str = ""

    def actions(self, service: str | None = None) -> list[str]:
        return [action for s, action, _ in self.calls if service in (None, s)]

    def function(self, name: str, namespace: str) -> Params:
        return self.functions[(namespace, name)]


def _zip(code: Params, what: str) -> bytes | str:
    """The zip a `Code` carries inline (`ZipFile`, base64), or `cos:<bucket><object>` for one
    named in COS; Refused when it is neither."""
    if code.get("CosBucketName") and code.get("CosBucketRegion"):
        if not str(code.get("CosObjectName", "")).startswith("/"):
            raise Refused("InvalidParameterValue.CosObjectName", f"{what}: {code}")
        return f"cos:{code['CosBucketName']}{code['CosObjectName']}"
    try:
        data = base64.b64decode(code.get("ZipFile") or "", validate=True)
        zipfile.ZipFile(io.BytesIO(data)).testzip()
    except (binascii.Error, TypeError, zipfile.BadZipFile) as exc:
        raise Refused("InvalidParameterValue.ZipFile", f"{what}: not a base64 zip") from exc
    return data


def _require(params: Params, *names: str) -> None:
    missing = [name for name in names if params.get(name) in (None, "", [])]
    if missing:
        raise Refused("MissingParameter", f"{', '.join(missing)} required")


def _function(fake: FakeTencentDeploy, params: Params) -> Params:
    _require(params, "FunctionName")
    key = (params.get("Namespace", "default"), params["FunctionName"])
    if key not in fake.functions:
        raise Refused("ResourceNotFound.Function", f"{key[1]} not found in {key[0]}")
    return fake.functions[key]


def _check_configuration(fake: FakeTencentDeploy, params: Params) -> None:
    if params.get("Runtime") is not None and params["Runtime"] not in RUNTIMES:
        raise Refused("InvalidParameterValue.Runtime", str(params["Runtime"]))
    memory, timeout = params.get("MemorySize", 128), params.get("Timeout", 3)
    if (
        not (64 <= memory <= 3072 and (memory == 64 or memory % 128 == 0))
        or not 1 <= timeout <= 900
    ):
        raise Refused("InvalidParameterValue.MemorySize", f"{memory} MB / {timeout} s")
    for variable in (params.get("Environment") or {}).get("Variables", []):
        if set(variable) != {"Key", "Value"} or not isinstance(variable["Value"], str):
            raise Refused("InvalidParameterValue.Environment", str(variable))
    for layer in params.get("Layers") or []:
        versions = fake.layers.get(layer["LayerName"], [])
        if layer["LayerVersion"] not in {version["LayerVersion"] for version in versions}:
            raise Refused("ResourceNotFound.Layer", f"{layer['LayerName']}:{layer['LayerVersion']}")
    for field_name in ("ClsLogsetId", "ClsTopicId"):
        if field_name in params and not _CLS_ID.fullmatch(str(params[field_name])):
            raise Refused(f"InvalidParameterValue.{field_name}", str(params[field_name]))
    vpc = params.get("VpcConfig")
    if vpc is not None and not (
        vpc.get("VpcId", "").startswith("vpc-") and vpc.get("SubnetId", "").startswith("subnet-")
    ):
        raise Refused("InvalidParameterValue.VpcConfig", str(vpc))


def _check_trigger(params: Params) -> None:
    _require(params, "FunctionName", "TriggerName", "Type")
    kind, name, desc = params["Type"], params["TriggerName"], params.get("TriggerDesc", "")
    if kind == "timer" and not _CRON.fullmatch(desc):
        raise Refused("InvalidParameterValue.TriggerDesc", f"cron needs 7 fields: {desc}")
    if kind == "cos":
        event = json.loads(desc)
        if not _COS_DOMAIN.fullmatch(name) or not event["event"].startswith("cos:"):
            raise Refused("InvalidParameterValue.TriggerDesc", f"cos trigger {name}: {desc}")
    if params.get("Enable") not in ("OPEN", "CLOSE", None):
        raise Refused("InvalidParameterValue.Enable", str(params["Enable"]))


def _scf(fake: FakeTencentDeploy, action: str, params: Params) -> Params:
    if action == "ListNamespaces":
        return {"Namespaces": [{"Name": name} for name in sorted(fake.namespaces)]}
    if action == "CreateNamespace":
        fake.namespaces.add(params["Namespace"])
        return {}
    if action == "ListLayerVersions":
        if params["LayerName"] not in fake.layers:
            raise Refused("ResourceNotFound.Layer", params["LayerName"])
        return {
            "LayerVersions": [
                {k: v for k, v in version.items() if k != "zip"}
                for version in fake.layers[params["LayerName"]]
            ]
        }
    if action == "PublishLayerVersion":
        _require(params, "LayerName", "CompatibleRuntimes", "Content")
        if (
            not _NAME.fullmatch(params["LayerName"])
            or not set(params["CompatibleRuntimes"]) <= RUNTIMES
        ):
            raise Refused("InvalidParameterValue.LayerName", params["LayerName"])
        versions = fake.layers.setdefault(params["LayerName"], [])
        version = {
            "LayerVersion": len(versions) + 1,
            "Description": params.get("Description", ""),
            "CompatibleRuntimes": params["CompatibleRuntimes"],
            "zip": _zip(params["Content"], "layer"),
        }
        versions.append(version)
        return {"LayerVersion": version["LayerVersion"]}
    if action == "GetFunction":
        found = _function(fake, params)
        return {
            **{k: v for k, v in found.items() if k not in ("zip", "triggers")},
            "Status": "Active",
        }
    if action == "CreateFunction":
        _require(params, "FunctionName", "Code", "Handler")
        if params.get("Namespace", "default") not in fake.namespaces or not _NAME.fullmatch(
            params["FunctionName"]
        ):
            raise Refused("InvalidParameterValue.FunctionName", params["FunctionName"])
        if (params.get("Namespace", "default"), params["FunctionName"]) in fake.functions:
            raise Refused("ResourceInUse.Function", params["FunctionName"])
        _check_configuration(fake, params)
        stored = {k: v for k, v in params.items() if k != "Code"}
        stored |= {"zip": _zip(params["Code"], "function"), "triggers": []}
        fake.functions[(params.get("Namespace", "default"), params["FunctionName"])] = stored
        return {}
    if action == "UpdateFunctionCode":
        found = _function(fake, params)
        found["zip"] = _zip(params, "function")
        found["Handler"] = params.get("Handler", found["Handler"])
        return {}
    if action == "UpdateFunctionConfiguration":
        found = _function(fake, params)
        _check_configuration(fake, params)
        found.update({k: v for k, v in params.items() if k not in ("FunctionName", "Namespace")})
        return {}
    if action == "UpdateFunctionEventInvokeConfig":
        found = _function(fake, params)
        config = params.get("AsyncTriggerConfig") or {}
        retries, ttl = config.get("RetryConfig"), config.get("MsgTTL")
        if not (isinstance(retries, list) and len(retries) == 1 and isinstance(ttl, int)):
            raise Refused("InvalidParameterValue.AsyncTriggerConfig", json.dumps(config))
        if not isinstance(retries[0].get("RetryNum"), int):
            raise Refused("InvalidParameterValue.RetryNum", json.dumps(retries))
        found["async_invoke"] = config
        return {}
    if action == "ListTriggers":
        triggers = _function(fake, params)["triggers"]
        return {"TotalCount": len(triggers), "Triggers": [dict(t) for t in triggers]}
    if action == "CreateTrigger":
        _check_trigger(params)
        triggers = _function(fake, params)["triggers"]
        if any(
            (t["Type"], t["TriggerName"]) == (params["Type"], params["TriggerName"])
            for t in triggers
        ):
            raise Refused("ResourceInUse.Trigger", params["TriggerName"])
        triggers.append(
            {
                "Type": params["Type"],
                "TriggerName": params["TriggerName"],
                "TriggerDesc": params["TriggerDesc"],
                "Enable": 1 if params.get("Enable") == "OPEN" else 0,
            }
        )
        return {}
    if action == "DeleteTrigger":
        found = _function(fake, params)
        found["triggers"] = [
            t
            for t in found["triggers"]
            if (t["Type"], t["TriggerName"]) != (params["Type"], params["TriggerName"])
        ]
        return {}
    if action == "Invoke":
        found = _function(fake, params)
        event = json.loads(params.get("ClientContext") or "{}")
        answer = fake.invoke(found["FunctionName"], event)
        return {
            "Result": {
                "InvokeResult": 0,
                "RetMsg": json.dumps(answer),
                "ErrMsg": "",
                "FunctionRequestId": secrets.token_hex(8),
            }
        }
    raise Refused("InvalidAction", action)


def _service(fake: FakeTencentDeploy, params: Params) -> Params:
    _require(params, "ServiceId")
    if params["ServiceId"] not in fake.services:
        raise Refused("ResourceNotFound.InvalidService", params["ServiceId"])
    return fake.services[params["ServiceId"]]


def _check_api(fake: FakeTencentDeploy, params: Params) -> None:
    _require(params, "ServiceId", "ServiceType", "ServiceTimeout", "Protocol", "RequestConfig")
    path, method = params["RequestConfig"]["Path"], params["RequestConfig"]["Method"]
    if params["ServiceType"] != "SCF" or params["Protocol"] not in ("HTTPS", "WEBSOCKET"):
        raise Refused(
            "InvalidParameterValue.ServiceType", f"{params['ServiceType']}/{params['Protocol']}"
        )
    if not path.startswith("/") or method not in (
        "GET",
        "POST",
        "PUT",
        "PATCH",
        "DELETE",
        "HEAD",
        "ANY",
    ):
        raise Refused("InvalidParameterValue.RequestConfig", f"{method} {path}")
    declared = {p["Name"] for p in params.get("RequestParameters") or [] if p["Position"] == "PATH"}
    if set(re.findall(r"\{(\w+)\}", path)) != declared:
        raise Refused("InvalidParameterValue.RequestParameters", path)
    key = (
        params.get("ServiceScfFunctionNamespace", "default"),
        params.get("ServiceScfFunctionName"),
    )
    if key not in fake.functions or not isinstance(
        params.get("ServiceScfIsIntegratedResponse"), bool
    ):
        raise Refused("InvalidParameterValue.ServiceScfFunctionName", str(key))


_PLUGIN_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,48}[A-Za-z0-9]")
_PLUGIN_TYPES = {"IPControl", "TrafficControl", "Cors", "CustomReq", "CustomAuth", "Routing"}
_CORS_METHODS = {"GET", "PUT", "POST", "DELETE", "HEAD"}


def _check_plugin(params: Params, plugin_type: str) -> None:
    """CreatePlugin/ModifyPlugin: the name's rule, the type, and a Cors plugin's definition
    as Tencent's CORS page gives it (origins with their scheme, its five methods)."""
    if not _PLUGIN_NAME.fullmatch(params.get("PluginName", "")) or plugin_type not in (
        _PLUGIN_TYPES
    ):
        raise Refused("InvalidParameterValue.PluginName", str(params.get("PluginName")))
    data = json.loads(params["PluginData"])
    if plugin_type == "Cors" and (
        not set(data["allow_methods"]) <= _CORS_METHODS
        or not all(re.fullmatch(r"https?://[^/,\s]+", o) for o in data["allow_origin"])
        or not isinstance(data["max_age"], int)
    ):
        raise Refused("InvalidParameterValue.PluginData", params["PluginData"])


def _plugins(fake: FakeTencentDeploy, action: str, params: Params) -> Params:
    if action == "DescribePlugins":
        found = [
            {"PluginId": k, **{n: p[n] for n in ("PluginName", "PluginType", "PluginData")}}
            for k, p in fake.plugins.items()
            if params.get("PluginName") in (None, p["PluginName"])
        ]
        return {"Result": {"TotalCount": len(found), "PluginSet": found}}
    if action == "CreatePlugin":
        _require(params, "PluginName", "PluginType", "PluginData")
        _check_plugin(params, params["PluginType"])
        plugin_id = f"plugin-{secrets.token_hex(4)}"
        fake.plugins[plugin_id] = {**params, "attached": set()}
        return {"Result": {"PluginId": plugin_id, **params}}
    if params.get("PluginId") not in fake.plugins:
        raise Refused("ResourceNotFound.InvalidPlugin", str(params.get("PluginId")))
    plugin = fake.plugins[params["PluginId"]]
    if action == "ModifyPlugin":
        _check_plugin({**plugin, **params}, plugin["PluginType"])
        plugin.update({k: v for k, v in params.items() if k != "PluginId"})
        return {"Result": True}
    if action == "DescribePluginApis":
        attached = [
            {"ServiceId": s, "Environment": e, "ApiId": a} for s, e, a in plugin["attached"]
        ]
        offset, limit = params.get("Offset", 0), params.get("Limit", 20)
        return {
            "Result": {
                "TotalCount": len(attached),
                "AttachedApis": attached[offset : offset + limit],
            }
        }
    _require(params, "ServiceId", "EnvironmentName", "ApiIds")
    apis = _service(fake, params)["apis"]
    keys = {(params["ServiceId"], params["EnvironmentName"], a) for a in params["ApiIds"]}
    if not set(params["ApiIds"]) <= set(apis) or keys & plugin["attached"]:
        raise Refused("FailedOperation.AttachPlugin", ",".join(params["ApiIds"]))
    plugin["attached"] |= keys
    return {"Result": True}


def _apigateway(fake: FakeTencentDeploy, action: str, params: Params) -> Params:
    if action in (
        "DescribePlugins",
        "CreatePlugin",
        "ModifyPlugin",
        "DescribePluginApis",
        "AttachPlugin",
    ):
        return _plugins(fake, action, params)
    if action == "DescribeServicesStatus":
        names = {
            v for f in params.get("Filters", []) if f["Name"] == "ServiceName" for v in f["Values"]
        }
        found = [
            {"ServiceId": k, "ServiceName": s["ServiceName"], "OuterSubDomain": s["OuterSubDomain"]}
            for k, s in fake.services.items()
            if not names or s["ServiceName"] in names
        ]
        return {"Result": {"TotalCount": len(found), "ServiceSet": found}}
    if action == "CreateService":
        _require(params, "ServiceName", "Protocol")
        service_id = f"service-{secrets.token_hex(4)}"
        fake.services[service_id] = {
            "ServiceName": params["ServiceName"],
            "OuterSubDomain": f"{service_id}.gz.apigw.tencentcs.com",
            "apis": {},
            "releases": [],
        }
        return {
            "ServiceId": service_id,
            "ServiceName": params["ServiceName"],
            "OuterSubDomain": fake.services[service_id]["OuterSubDomain"],
        }
    if action == "DescribeApisStatus":
        apis = list(_service(fake, params)["apis"].items())
        offset, limit = params.get("Offset", 0), params.get("Limit", 20)
        page = [
            {"ApiId": k, "Path": a["RequestConfig"]["Path"], "Method": a["RequestConfig"]["Method"]}
            for k, a in apis[offset : offset + limit]
        ]
        return {"Result": {"TotalCount": len(apis), "ApiIdStatusSet": page}}
    if action in ("CreateApi", "ModifyApi"):
        apis = _service(fake, params)["apis"]
        _check_api(fake, params)
        api_id = params.get("ApiId") or f"api-{secrets.token_hex(4)}"
        if action == "ModifyApi" and api_id not in apis:
            raise Refused("ResourceNotFound.InvalidApi", api_id)
        apis[api_id] = {k: v for k, v in params.items() if k not in ("ServiceId", "ApiId")}
        return {"Result": {"ApiId": api_id}}
    if action == "DeleteApi":
        _service(fake, params)["apis"].pop(params["ApiId"])
        return {"Result": True}
    if action == "ReleaseService":
        if params.get("EnvironmentName") not in ("test", "prepub", "release"):
            raise Refused(
                "InvalidParameterValue.EnvironmentName", str(params.get("EnvironmentName"))
            )
        _service(fake, params)["releases"].append(params["EnvironmentName"])
        return {"Result": {"ReleaseDesc": params.get("ReleaseDesc", "")}}
    raise Refused("InvalidAction", action)


def _answer(fake: FakeTencentDeploy, headers: dict[str, str], body: bytes) -> Params:
    error = tc3_signature_error(headers, body)
    if error is not None:
        raise Refused("AuthFailure.SignatureFailure", error)
    service = headers["authorization"].split("Credential=", 1)[1].split("/")[2]
    action = headers.get("x-tc-action", "")
    if service not in VERSIONS or headers.get("x-tc-version") != VERSIONS[service]:
        raise Refused("InvalidParameter.Version", f"{service} {headers.get('x-tc-version')}")
    if not headers.get("x-tc-region"):
        raise Refused("MissingParameter", "X-TC-Region required")
    params = json.loads(body)
    answer = (_scf if service == "scf" else _apigateway)(fake, action, params)
    fake.calls.append((service, action, params))
    return answer


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        headers = {name.lower(): value for name, value in self.headers.items()}
        try:
            response = _answer(self.server.fake, headers, body)
        except Refused as exc:
            response = {"Error": {"Code": exc.code, "Message": exc.message}}
        write_response(self, response)


class _Server(ThreadingHTTPServer):
    fake: FakeTencentDeploy


@contextmanager
def running_fake_tencent_deploy() -> Iterator[FakeTencentDeploy]:
    """The fake on a free loopback port; `url` is its endpoint (http://127.0.0.1:port)."""
    server = _Server(("127.0.0.1", 0), _Handler)
    server.fake = FakeTencentDeploy()
    with serving(server) as url:
        server.fake.url = url
        yield server.fake
