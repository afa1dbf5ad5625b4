"""Bank names (full, short and colloquial forms) with an optional branch, and payment platforms."""

from __future__ import annotations

import re
from dataclasses import dataclass

from fanzha.banking.bins import bank_names
from fanzha.cases.extract.model import BankMention

# Colloquial and short forms -> bank code (codes as in banking/data/name.csv).
_ALIASES: dict[str, str] = {
    "工行": "ICBC", "工商银行": "ICBC", "中国工商银行": "ICBC",
    "农行": "ABC", "农业银行": "ABC", "中国农业银行": "ABC",
    "中行": "BOC", "中国银行": "BOC",
    "建行": "CCB", "建设银行": "CCB", "中国建设银行": "CCB",
    "交行": "COMM", "交通银行": "COMM",
    "邮储": "PSBC", "邮储银行": "PSBC", "邮政储蓄银行": "PSBC", "中国邮政储蓄银行": "PSBC",
    "邮政银行": "PSBC",
    "招行": "CMB", "招商银行": "CMB",
    "浦发": "SPDB", "浦发银行": "SPDB", "上海浦东发展银行": "SPDB",
    "中信银行": "CITIC", "兴业银行": "CIB", "民生银行": "CMBC", "中国民生银行": "CMBC",
    "光大银行": "CEB", "中国光大银行": "CEB", "华夏银行": "HXBANK", "广发银行": "GDB", "广东发展银行": "GDB",
    "平安银行": "SPABANK", "上海银行": "SHBANK", "北京银行": "BJBANK", "浙商银行": "CZBANK",
    "恒丰银行": "EGBANK", "渤海银行": "BOHAIB", "上海农商银行": "SHRCB", "上海农商行": "SHRCB",
    "汇丰银行": "HSBC", "花旗银行": "CITI", "渣打银行": "SCB", "东亚银行": "HKBEA",
}

# Two-character short forms are also ordinary word pieces ("其中行人", "提交行程", "施工行为"), so they
# only count when the neighbours do not make such a word.
_SHORT_GUARDS: dict[str, tuple[str, str]] = {  # alias -> (forbidden previous chars, forbidden next chars)
    "工行": ("施员分加化手竣开完停复动", "为动政进驶人走李程"),
    "农行": ("务", "为动政业"),
    "中行": ("其集进执实施举暗空途心正当轨运飞航步平并发", "为动政驶走人李程业进使"),
    "建行": ("自重新搭扩组创再", "为动政"),
    "交行": ("提递移转外成社结相外", "为动政李程驶人"),
    "招行": ("", "为动政"),
    "邮储": ("", ""),
    "浦发": ("", "展区"),
}

_PLATFORMS: dict[str, tuple[str, str]] = {  # mention -> (code, display name)
    "支付宝": ("ALIPAY", "支付宝"),
    "财付通": ("TENPAY", "财付通"),
    "微信支付": ("WECHATPAY", "微信支付"),
    "微信": ("WECHATPAY", "微信支付"),
}
# Plain "微信" is usually the chat app; it names the payment platform only next to a payment word.
_WECHAT_PAY_CONTEXT = (
    r"(?=\s*(?:转账|转了|转给|转钱|转款|红包|零钱|钱包|收款|付款|扫码|二维码|支付|充值|提现))"
)

_BRANCH_BODY = r"[^\s\d，。,.;；:：、“”\"'‘’（）()【】《》!！?？银行向到在给从和与及的了是把将]"
_BRANCH_RE = re.compile(
    rf"{_BRANCH_BODY}{{1,8}}?(?:分行|支行|营业部|分理处)(?:营业部|{_BRANCH_BODY}{{1,8}}?(?:支行|营业部|分理处))?"
)


@dataclass(frozen=True, slots=True)
class _Target:
    code: str
    name: str
    kind: str


def _build() -> tuple[re.Pattern[str], dict[str, _Target]]:
    names = bank_names()
    targets: dict[str, _Target] = {}
    for code, name in names.items():  # csv order; a name listed under two codes keeps the first
        targets.setdefault(name, _Target(code, name, "bank"))
        # "汇丰银行（中国）", "东亚银行有限公司": also accept the name without the legal suffix.
        short = re.sub(r"（[^）]*）$|(?:股份)?有限公司$", "", name)
        if short != name:
            targets.setdefault(short, _Target(code, names.get(code, name), "bank"))
    for alias, code in _ALIASES.items():
        targets[alias] = _Target(code, names.get(code, alias), "bank")
    for mention, (code, display) in _PLATFORMS.items():
        targets[mention] = _Target(code, display, "payment_platform")
    parts: list[str] = []
    for mention in sorted(targets, key=len, reverse=True):  # longest first: 中国银行 inside 中国银行间...
        piece = re.escape(mention)
        if mention in _SHORT_GUARDS:
            before, after = _SHORT_GUARDS[mention]
            if before:
                piece = f"(?<![{before}]){piece}"
            if after:
                piece = f"{piece}(?![{after}])"
        elif mention == "微信":
            piece += _WECHAT_PAY_CONTEXT
        elif mention.endswith("银行"):
            piece += "(?![业间])"  # 中国银行业协会, 银行间市场
        parts.append(piece)
    # A leading first-character test lets the engine skip most positions without trying ~350
    # alternatives at each (about 6x faster on a long narrative).
    firsts = re.escape("".join(sorted({mention[0] for mention in targets})))
    return re.compile(f"(?=[{firsts}])(?:{'|'.join(parts)})"), targets


_BANK_RE, _TARGETS = _build()


def extract_banks(text: str) -> list[BankMention]:
    """Every bank or platform mention, in order of appearance (callers deduplicate)."""
    found: list[BankMention] = []
    for m in _BANK_RE.finditer(text):
        target = _TARGETS[m.group()]
        end = m.end()
        branch: str | None = None
        if target.kind == "bank":
            b = _BRANCH_RE.match(text, end)
            if b is not None:
                branch, end = b.group(), b.end()
        found.append(BankMention(code=target.code, name=target.name, branch=branch, kind=target.kind,
                                 text=text[m.start():end], span=(m.start(), end)))
    return found


def dedupe_banks(mentions: list[BankMention]) -> list[BankMention]:
    """One item per (code, branch); a mention without a branch adds nothing once the bank is known."""
    out: list[BankMention] = []
    seen: set[tuple[str, str | None]] = set()
    codes: set[str] = set()
    for b in mentions:
        key = (b.code, b.branch)
        if key in seen or (b.branch is None and b.code in codes):
            continue
        seen.add(key)
        codes.add(b.code)
        out.append(b)
    return out
