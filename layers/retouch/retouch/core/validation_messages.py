"""The one table of validation messages: each pydantic error type, in English and Chinese.

FastAPI's `RequestValidationError` carries pydantic's English text; the problem handler keeps
only each error's `type` and `ctx` and words it through this table (`field_message`), so a
422 reads the same in both languages whichever model refused. `{names}` are filled from the
error's `ctx`. A type missing here reads as `FALLBACK`; a `value_error` raised by one of our
validators reads as its own message when `core.messages.DETAILS` knows it.
"""

from __future__ import annotations

from collections.abc import Mapping

FALLBACK = ("Invalid value", "取值无效")

#: pydantic error type → (English template, Chinese template).
VALIDATION: Mapping[str, tuple[str, str]] = {
    "missing": ("Field required", "缺少必填字段"),
    "extra_forbidden": ("Unknown field", "不允许的字段"),
    "json_invalid": ("Invalid JSON", "JSON 格式错误"),
    "json_type": ("Send JSON text", "请发送 JSON 文本"),
    "model_type": ("Should be an object", "应为对象"),
    "model_attributes_type": ("Should be an object", "应为对象"),
    "dict_type": ("Should be an object", "应为对象"),
    "mapping_type": ("Should be an object", "应为对象"),
    "list_type": ("Should be a list", "应为列表"),
    "tuple_type": ("Should be a list", "应为列表"),
    "set_type": ("Should be a list of distinct items", "应为不重复的列表"),
    "frozen_set_type": ("Should be a list of distinct items", "应为不重复的列表"),
    "iterable_type": ("Should be a list", "应为列表"),
    "none_required": ("Should be null", "应为 null"),
    "string_type": ("Should be a string", "应为字符串"),
    "string_unicode": ("Should be a valid string", "应为有效的字符串"),
    "string_not_ascii": ("Should contain only ASCII characters", "只能包含 ASCII 字符"),
    "string_too_short": ("At least {min_length} characters", "至少 {min_length} 个字符"),
    "string_too_long": ("At most {max_length} characters", "最多 {max_length} 个字符"),
    "string_pattern_mismatch": ("Should match pattern {pattern}", "应匹配格式 {pattern}"),
    "too_short": ("At least {min_length} items", "至少 {min_length} 项"),
    "too_long": ("At most {max_length} items", "最多 {max_length} 项"),
    "bytes_type": ("Should be bytes", "应为字节串"),
    "bytes_too_short": ("At least {min_length} bytes", "至少 {min_length} 字节"),
    "bytes_too_long": ("At most {max_length} bytes", "最多 {max_length} 字节"),
    "bool_type": ("Should be a boolean", "应为布尔值"),
    "bool_parsing": ("Should be a boolean", "应为布尔值"),
    "int_type": ("Should be an integer", "应为整数"),
    "int_parsing": ("Should be an integer", "应为整数"),
    "int_parsing_size": ("The integer is too large", "整数过大"),
    "int_from_float": ("Should be an integer", "应为整数"),
    "float_type": ("Should be a number", "应为数字"),
    "float_parsing": ("Should be a number", "应为数字"),
    "finite_number": ("Should be a finite number", "应为有限数字"),
    "decimal_type": ("Should be a number", "应为数字"),
    "decimal_parsing": ("Should be a number", "应为数字"),
    "greater_than": ("Should be greater than {gt}", "应大于 {gt}"),
    "greater_than_equal": ("Should be at least {ge}", "应不小于 {ge}"),
    "less_than": ("Should be less than {lt}", "应小于 {lt}"),
    "less_than_equal": ("Should be at most {le}", "应不大于 {le}"),
    "multiple_of": ("Should be a multiple of {multiple_of}", "应为 {multiple_of} 的倍数"),
    "enum": ("Should be one of {expected}", "应为以下之一：{expected}"),
    "literal_error": ("Should be one of {expected}", "应为以下之一：{expected}"),
    "union_tag_invalid": (
        "Should be one of {expected_tags}",
        "应为以下之一：{expected_tags}",
    ),
    "union_tag_not_found": ("Name the {discriminator}", "请提供 {discriminator}"),
    "date_type": ("Should be a date", "应为日期"),
    "date_parsing": ("Should be a date (YYYY-MM-DD)", "应为日期（YYYY-MM-DD）"),
    "date_from_datetime_parsing": ("Should be a date", "应为日期"),
    "date_from_datetime_inexact": ("Should be a date without a time", "应为不含时间的日期"),
    "datetime_type": ("Should be a date and time", "应为日期时间"),
    "datetime_parsing": ("Should be an ISO 8601 date and time", "应为 ISO 8601 日期时间"),
    "datetime_from_date_parsing": ("Should be a date and time", "应为日期时间"),
    "datetime_object_invalid": ("Should be a date and time", "应为日期时间"),
    "timezone_naive": ("Should have no time zone", "不应带时区"),
    "timezone_aware": ("Should have a time zone", "应带时区"),
    "time_type": ("Should be a time", "应为时间"),
    "time_parsing": ("Should be a time", "应为时间"),
    "time_delta_type": ("Should be a duration", "应为时长"),
    "time_delta_parsing": ("Should be a duration", "应为时长"),
    "url_type": ("Should be a URL", "应为 URL"),
    "url_parsing": ("Should be a valid URL", "应为有效的 URL"),
    "url_syntax_violation": ("Should be a valid URL", "应为有效的 URL"),
    "url_too_long": ("At most {max_length} characters", "最多 {max_length} 个字符"),
    "url_scheme": (
        "The URL scheme should be {expected_schemes}",
        "URL 协议应为 {expected_schemes}",
    ),
    "uuid_type": ("Should be a UUID", "应为 UUID"),
    "uuid_parsing": ("Should be a UUID", "应为 UUID"),
    "value_error": ("Invalid value", "取值无效"),
    "assertion_error": ("Invalid value", "取值无效"),
}

#: Every English template above → its Chinese one (for `core.messages.localize`).
VALIDATION_ZH: Mapping[str, str] = {en: zh for en, zh in (FALLBACK, *VALIDATION.values())}


def template_for(error_type: str) -> str:
    """The English template of a pydantic error type (FALLBACK's for a type not listed)."""
    return VALIDATION.get(error_type, FALLBACK)[0]
