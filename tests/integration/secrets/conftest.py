from tests.integration.secrets.secrets_support import tencent_ssm

__all__ = ["tencent_ssm"]
