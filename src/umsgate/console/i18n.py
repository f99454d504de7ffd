"""The console's words in English and Korean.

The language is ``?lang=en|ko`` (remembered in the ``umsgate_lang`` cookie), else
the first of the two in the Accept-Language header, else English.
"""

from __future__ import annotations

import re

from starlette.requests import Request

LANGUAGES = ("en", "ko")
LANG_COOKIE = "umsgate_lang"

TEXT: dict[str, dict[str, str]] = {
    "en": {
        "title": "umsgate console",
        "skip": "Skip to content",
        "nav": "Console sections",
        "dashboard": "Dashboard",
        "messages": "Messages",
        "clients": "Clients",
        "connectors": "Connectors and routes",
        "webhooks": "Webhooks",
        "logout": "Log out",
        "login": "Log in",
        "username": "Username",
        "password": "Password",
        "login_failed": "The username or password is wrong.",
        "login_wait": "Too many failed logins. Try again in {s} seconds.",
        "logged_in_as": "Signed in as {name}",
        "language": "Language",
        "last_hour": "Last hour, per minute",
        "accepted": "Accepted",
        "delivered": "Delivered",
        "failed": "Failed",
        "expired": "Expired",
        "delivery_ratio": "Delivery ratio",
        "backlog": "Backlog by status",
        "webhook_backlog": "Webhook backlog",
        "pending": "Pending",
        "failing": "Failing (retrying)",
        "given_up": "Given up (last day)",
        "oldest_pending": "Oldest pending report",
        "seconds": "{s} s",
        "none": "none",
        "by_connector": "Outcomes by connector, last hour",
        "connector": "Connector",
        "channel": "Channel",
        "status": "Status",
        "count": "Count",
        "search": "Search",
        "search_messages": "Search messages",
        "client": "Client",
        "src_msg_id": "srcMsgId",
        "receiver": "Receiver",
        "since": "From (UTC)",
        "until": "Until (UTC)",
        "any": "Any",
        "results": "Messages found",
        "no_results": "No message matches.",
        "next_page": "Next page",
        "ums_msg_id": "umsMsgId",
        "created": "Created",
        "sender": "Sender",
        "attempts": "Attempts",
        "result": "Result",
        "timeline": "Timeline",
        "time": "Time",
        "code": "Code",
        "detail": "Detail",
        "message": "Message",
        "reports": "Webhook reports",
        "no_message": "No such message.",
        "client_list": "Clients",
        "new_client": "New client",
        "client_id": "Client id",
        "report_url": "Report URL",
        "tps": "Messages per second",
        "create": "Create",
        "save": "Save",
        "state": "State",
        "enabled": "Enabled",
        "disabled": "Disabled",
        "disable": "Disable",
        "enable": "Enable",
        "rotate_secret": "Rotate secret",
        "created_client": "Client {id} created. Its credentials are shown only now:",
        "new_secret": "New secret of {id} (shown only now):",
        "saved": "Saved.",
        "edit": "Edit",
        "actions": "Actions",
        "up": "Up",
        "down": "Stopped",
        "degraded": "Degraded",
        "breaker": "Breaker",
        "why": "Why",
        "in_flight": "In flight",
        "queued": "Queued",
        "protocol": "Protocol",
        "routes": "Routes",
        "route": "Route",
        "fallback": "Fallback message",
        "parent": "Made as fallback of",
        "connector_order": "Connectors (failover order)",
        "rules": "Rules",
        "unlimited": "unlimited",
        "webhooks_per_client": "Pending and failing per client",
        "webhook_reports": "Reports whose webhook failed",
        "resend": "Resend",
        "resent": "Report {id} will be sent again.",
        "next_try": "Next try",
        "last_error": "Last error",
        "error": "Error",
        "forbidden": "This change was refused: the form is stale. Reload the page.",
        "refresh": "Figures as of {t} UTC",
        "chart_note": "Chart; the table below has the same figures.",
        "minute": "Minute",
        "ratio_none": "no message ended",
    },
    "ko": {
        "title": "umsgate 콘솔",
        "skip": "본문으로 건너뛰기",
        "nav": "콘솔 메뉴",
        "dashboard": "대시보드",
        "messages": "메시지",
        "clients": "클라이언트",
        "connectors": "커넥터와 라우트",
        "webhooks": "웹훅",
        "logout": "로그아웃",
        "login": "로그인",
        "username": "사용자 이름",
        "password": "비밀번호",
        "login_failed": "사용자 이름 또는 비밀번호가 올바르지 않습니다.",
        "login_wait": "로그인 실패가 너무 많습니다. {s}초 후에 다시 시도하세요.",
        "logged_in_as": "{name}(으)로 로그인됨",
        "language": "언어",
        "last_hour": "최근 1시간, 분 단위",
        "accepted": "접수",
        "delivered": "전달 성공",
        "failed": "실패",
        "expired": "만료",
        "delivery_ratio": "전달 성공률",
        "backlog": "상태별 대기 건수",
        "webhook_backlog": "웹훅 대기",
        "pending": "대기",
        "failing": "실패 후 재시도 중",
        "given_up": "포기(최근 1일)",
        "oldest_pending": "가장 오래된 대기 리포트",
        "seconds": "{s}초",
        "none": "없음",
        "by_connector": "커넥터별 결과, 최근 1시간",
        "connector": "커넥터",
        "channel": "채널",
        "status": "상태",
        "count": "건수",
        "search": "검색",
        "search_messages": "메시지 검색",
        "client": "클라이언트",
        "src_msg_id": "srcMsgId",
        "receiver": "수신 번호",
        "since": "시작 (UTC)",
        "until": "끝 (UTC)",
        "any": "전체",
        "results": "검색된 메시지",
        "no_results": "일치하는 메시지가 없습니다.",
        "next_page": "다음 페이지",
        "ums_msg_id": "umsMsgId",
        "created": "생성 시각",
        "sender": "발신 번호",
        "attempts": "시도 횟수",
        "result": "결과",
        "timeline": "처리 이력",
        "time": "시각",
        "code": "코드",
        "detail": "내용",
        "message": "메시지",
        "reports": "웹훅 리포트",
        "no_message": "해당 메시지가 없습니다.",
        "client_list": "클라이언트 목록",
        "new_client": "새 클라이언트",
        "client_id": "클라이언트 ID",
        "report_url": "리포트 URL",
        "tps": "초당 메시지 수",
        "create": "만들기",
        "save": "저장",
        "state": "상태",
        "enabled": "사용 중",
        "disabled": "사용 중지",
        "disable": "사용 중지",
        "enable": "다시 사용",
        "rotate_secret": "시크릿 재발급",
        "created_client": (
            "클라이언트 {id}을(를) 만들었습니다. 인증 정보는 지금만 표시됩니다:"
        ),
        "new_secret": "{id}의 새 시크릿 (지금만 표시됩니다):",
        "saved": "저장했습니다.",
        "edit": "수정",
        "actions": "작업",
        "up": "정상",
        "down": "중지됨",
        "degraded": "불안정",
        "breaker": "차단기",
        "why": "사유",
        "in_flight": "처리 중",
        "queued": "대기열",
        "protocol": "프로토콜",
        "routes": "라우트",
        "route": "라우트",
        "fallback": "대체 발송 메시지",
        "parent": "원 메시지 (대체 발송)",
        "connector_order": "커넥터 (장애 조치 순서)",
        "rules": "규칙",
        "unlimited": "제한 없음",
        "webhooks_per_client": "클라이언트별 대기 및 실패",
        "webhook_reports": "웹훅 전송이 실패한 리포트",
        "resend": "재전송",
        "resent": "리포트 {id}을(를) 다시 보냅니다.",
        "next_try": "다음 시도",
        "last_error": "마지막 오류",
        "error": "오류",
        "forbidden": "변경이 거부되었습니다. 페이지를 새로 고친 후 다시 시도하세요.",
        "refresh": "{t} UTC 기준",
        "chart_note": "차트입니다. 같은 수치가 아래 표에 있습니다.",
        "minute": "분",
        "ratio_none": "끝난 메시지 없음",
    },
}


def language(request: Request) -> str:
    """The language of this request's page (see the module docstring)."""
    asked = request.query_params.get("lang", "")
    if asked in LANGUAGES:
        return asked
    remembered = request.cookies.get(LANG_COOKIE, "")
    if remembered in LANGUAGES:
        return remembered
    for part in request.headers.get("accept-language", "").split(","):
        tag = part.split(";")[0].strip().lower()[:2]
        if tag in LANGUAGES:
            return tag
    return "en"


class Words:
    """The words of one language: ``words("key", name=value)``."""

    def __init__(self, lang: str) -> None:
        self.lang = lang if lang in LANGUAGES else "en"
        self._table = TEXT[self.lang]

    def __call__(self, key: str, **values: object) -> str:
        text = self._table.get(key) or TEXT["en"][key]
        return text.format(**values) if values else text

    def error(self, message: str) -> str:
        """An error of the gateway's checks (written in English, as the CLI and
        the APIs give it) in this language: a sentence of `ERRORS` when one
        matches; else, in Korean, a lead that says what to do, then the English
        detail."""
        if self.lang == "en":
            return message
        for pattern, korean in ERRORS:
            match = pattern.fullmatch(message)
            if match is not None:
                return korean.format(*match.groups())
        return f"입력값을 확인하세요: {message}"


#: The checks' English messages and their Korean sentences (groups in order).
ERRORS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), korean)
    for pattern, korean in (
        (r"client '(.+)' exists already", "클라이언트 '{0}'이(가) 이미 있습니다."),
        (r"no client '(.+)'", "클라이언트 '{0}'이(가) 없습니다."),
        (r"TPS of (\w+) must be a whole number", "{0} TPS는 정수여야 합니다."),
        (r"TPS of (\w+) must be 1\.\.(\d+)", "{0} TPS는 1부터 {1}까지입니다."),
        (
            r"(\w+) TPS must be a whole number, not (.+)",
            "{0} TPS는 정수여야 합니다({1}).",
        ),
        (r"(\w+) TPS must be 1\.\.(\d+).*", "{0} TPS는 1부터 {1}까지입니다."),
        (r"report URL (.+?): (.+)", "리포트 URL {0}을(를) 사용할 수 없습니다: {1}"),
        (r"(.+) is not a date and time", "{0}은(는) 날짜와 시각이 아닙니다."),
        (r"(.+) is not a receiver number", "{0}은(는) 수신 번호가 아닙니다."),
        (r"status is one of (.+)", "상태는 {0} 중 하나입니다."),
        (r"channel is one of (.+)", "채널은 {0} 중 하나입니다."),
        (r"the form is too large", "입력 양식이 너무 큽니다."),
        (r"clientId is required", "clientId를 입력하세요."),
        (
            r"(\w+) is at most (\d+) printable characters",
            "{0}은(는) 표시 가능한 문자 {1}자 이내입니다.",
        ),
        (
            r"(\w+) is a time in epoch seconds.*",
            "{0}은(는) epoch 초 단위의 시각입니다.",
        ),
        (r"limit is 1\.\.(\d+)", "limit는 1부터 {0}까지입니다."),
        (r"before is a umsMsgId", "before는 umsMsgId여야 합니다."),
    )
)
