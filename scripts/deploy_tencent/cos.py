"""Packages past SCF's inline limit go through the stage's code bucket: the deploy puts the
zip there and hands SCF the object (`Code.CosBucketName/CosObjectName/CosBucketRegion`).

`RETOUCH_DEPLOY_TENCENT_COS_ENDPOINT` (`http://127.0.0.1:port`) sends the upload to one
endpoint instead of the bucket's own domain, as the offline test does.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

from scripts.deploy_tencent.config import Plan
from scripts.deploy_tencent.package import Package
from scripts.deploy_tencent.scf import Uploader


def cos_uploader(plan: Plan, environ: Mapping[str, str]) -> Uploader:
    """Puts a package into the code bucket (`<name>-<appid>`) under
    `retouch/<stage>/<package>-<sha256 prefix>.zip`; answers SCF's `Code` fields naming it
    (SCF wants the bucket's name without its APPID)."""

    def upload(package: Package) -> dict[str, str]:
        from qcloud_cos import CosConfig, CosS3Client

        endpoint = environ.get("RETOUCH_DEPLOY_TENCENT_COS_ENDPOINT", "")
        where = {"Scheme": "https"}
        if endpoint:
            parts = urlsplit(endpoint)
            where = {"Scheme": parts.scheme, "Domain": parts.netloc}
        config = CosConfig(
            Region=plan.region,
            SecretId=environ["TENCENTCLOUD_SECRET_ID"],
            SecretKey=environ["TENCENTCLOUD_SECRET_KEY"],
            Token=environ.get("TENCENTCLOUD_SESSION_TOKEN") or None,
            **where,
        )
        key = f"retouch/{plan.stage}/{package.name}-{package.sha256[:16]}.zip"
        CosS3Client(config).put_object(Bucket=plan.code_bucket, Key=key, Body=package.data)
        return {
            "CosBucketName": plan.code_bucket.rsplit("-", 1)[0],
            "CosObjectName": f"/{key}",
            "CosBucketRegion": plan.region,
        }

    return upload
