"""`scripts/deploy tencent --stage dev|prod`: Retouch on Tencent Cloud SCF and API Gateway,
from deploy/tencent.yml, through tencentcloud-sdk-python (docs/deploy-tencent.md)."""
