"""What a callback agent says (劝阻话术), per fraud type: spoken in Chinese, glossed in English for the en console.

Every script opens the same way (who is calling, and how to recognise a genuine anti-fraud call: the number
shows "area code + 96110"), gives the two or three points that break that kind of fraud, and closes with what to
do now. A task without a known fraud type gets the general script (其他).
"""

from __future__ import annotations

from dataclasses import dataclass

from fanzha.cases.fraud_types import FraudType


@dataclass(frozen=True, slots=True)
class Line:
    zh: str
    en: str

    def text(self, lang: str) -> str:
        return self.zh if lang == "zh" else self.en


@dataclass(frozen=True, slots=True)
class Script:
    fraud_type: FraudType
    opening: Line
    points: tuple[Line, ...]
    closing: Line

    def title(self, lang: str) -> str:
        return self.fraud_type.zh if lang == "zh" else self.fraud_type.en

    def lines(self) -> tuple[Line, ...]:
        return (self.opening, *self.points, self.closing)

    def as_dict(self) -> dict[str, object]:
        return {
            "fraud_type": self.fraud_type.value, "title_zh": self.fraud_type.zh, "title_en": self.fraud_type.en,
            "opening": {"zh": self.opening.zh, "en": self.opening.en},
            "points": [{"zh": p.zh, "en": p.en} for p in self.points],
            "closing": {"zh": self.closing.zh, "en": self.closing.en},
        }


OPENING = Line(
    "您好，我是上海市反电信网络诈骗中心的民警，我们的来电显示是“区号+96110”。我们发现您近期接到了涉嫌诈骗的电话，"
    "请您先不要转账，听我说一分钟。",
    "Hello, I am a police officer at the Shanghai Anti-Telecom-Fraud Center; our calls show \"area code + 96110\". "
    "You recently had a call from a number linked to fraud. Please do not transfer any money; give me one minute.",
)
CLOSING = Line(
    "请马上挂断对方电话，不要转账，不要告诉任何人验证码和密码，不要下载对方发来的App，也不要开启屏幕共享。"
    "如果已经转账，请立即拨打110报警；有任何疑问，随时拨打96110。",
    "Hang up on them now. Do not transfer, never tell anyone a verification code or PIN, do not install any app "
    "they send and do not share your screen. If you have already paid, call 110 at once; call 96110 with any "
    "question.",
)

_POINTS: dict[FraudType, tuple[Line, ...]] = {
    FraudType.TASK_REBATE: (
        Line("刷单本身就是违法的。前几单的小额返利是诱饵，之后对方会以“任务没做完”“账户被冻结”为由让您不断加码转账。",
             "Click-farming is itself illegal. The first small rebates are bait; then they say a task is unfinished "
             "or the account is frozen, and ask for more and more money."),
        Line("凡是要先交钱才能拿佣金的兼职，都是诈骗。",
             "Any side job that wants money from you before paying a commission is a fraud."),
    ),
    FraudType.FAKE_CUSTOMER_SERVICE: (
        Line("正规电商和快递的客服不会主动打电话给您退款理赔，更不会要验证码、让您开屏幕共享或转账到“安全账户”。",
             "Real shop or courier staff never call you to offer a refund, and never ask for codes, screen sharing "
             "or a transfer to a \"safe account\"."),
        Line("“关闭百万保障”“取消会员自动扣费”都是骗局。退款、理赔请您自己打开官方App办理。",
             "\"Switching off a million-yuan cover\" or \"cancelling a membership fee\" is a scam. Handle refunds "
             "yourself in the official app."),
    ),
    FraudType.FAKE_INVESTMENT: (
        Line("“内幕消息”“导师带单”“稳赚不赔”的平台都是假的。小额盈利能提现是诱饵，大额投进去就取不出来了。",
             "Platforms with \"inside tips\", \"mentors\" or \"guaranteed profit\" are fake. Small withdrawals work "
             "as bait; large sums never come back."),
        Line("提现前要交“保证金”“手续费”“税费”的，一定是诈骗。投资请认准持牌金融机构。",
             "A platform that wants a deposit, fee or tax before you can withdraw is a fraud. Invest only with "
             "licensed institutions."),
    ),
    FraudType.FAKE_LOAN: (
        Line("正规贷款放款前不收任何“解冻费”“保证金”“刷流水”的钱。",
             "A real lender never charges an unfreezing fee, a deposit or a \"turnover\" payment before paying out."),
        Line("说您“银行卡号填错、资金被冻结”，要您转账解冻的，都是诈骗。贷款和信用卡请到银行办理。",
             "\"Your card number was wrong, the loan is frozen, pay to release it\" is a fraud. Get loans and cards "
             "at a bank."),
    ),
    FraudType.FAKE_CREDIT_REPAIR: (
        Line("征信记录由中国人民银行征信中心依法记录，任何人都不能“消除不良记录”或“注销校园贷”。",
             "Credit records are kept by the People's Bank of China credit center; nobody can \"erase a bad record\" "
             "or \"cancel a student loan account\"."),
        Line("自称金融监管部门或网贷平台客服，让您把钱转出去“清空额度”的，都是诈骗。",
             "Anyone claiming to be a regulator or a lending platform who asks you to move money out to \"clear a "
             "credit line\" is a fraudster."),
    ),
    FraudType.FAKE_SHOPPING: (
        Line("低于市价的商品、代购、门票，要您私下转账或扫码付款的，大多是诈骗。",
             "Goods, proxy purchases or tickets far below the market price, paid by private transfer or QR code, "
             "are mostly frauds."),
        Line("请在正规平台交易，不要离开平台私下付款。",
             "Buy on a proper platform and never pay outside it."),
    ),
    FraudType.IMPERSONATE_AUTHORITY: (
        Line("公安、检察院、法院不会通过电话办案，不会在网上发“通缉令”“逮捕令”，也根本没有“安全账户”。",
             "Police, procuratorates and courts do not handle cases by phone, do not send warrants online, and there "
             "is no such thing as a \"safe account\"."),
        Line("让您把钱转到“安全账户”、要您保密、不许告诉家人的，都是诈骗。您可以挂断后自己拨打110核实。",
             "Anyone who tells you to move money to a \"safe account\" and keep it secret from your family is a "
             "fraudster. Hang up and call 110 yourself to check."),
    ),
    FraudType.IMPERSONATE_ACQUAINTANCE: (
        Line("冒充领导、熟人加您微信或QQ，说“急需用钱”“帮忙周转”的，请一定当面或拨打您原来存的号码核实。",
             "A \"boss\" or friend who adds you on WeChat or QQ and needs money urgently: check in person or on the "
             "number you already had."),
        Line("不要只凭聊天、语音或视频就转账，声音和头像都可以伪造。",
             "Never pay on the strength of a chat, a voice message or a video: voices and faces can be faked."),
    ),
    FraudType.GAME_TRADE: (
        Line("游戏账号、装备、点卡请在官方平台交易。私下交易要您先付款，再交“保证金”“解冻费”的，都是诈骗。",
             "Trade game accounts and items only on the official platform. A private trade that asks for payment, "
             "then a deposit or an unfreezing fee, is a fraud."),
        Line("如果是孩子在交易，请马上告诉家长。",
             "If a child is trading, tell the parents now."),
    ),
    FraudType.ROMANCE: (
        Line("网上认识、从没见过面的“恋人”以投资、博彩、家人生病为由让您转账，就是“杀猪盘”。",
             "An online \"partner\" you have never met who asks for money for an investment, betting or a sick "
             "relative is running a pig-butchering scam."),
        Line("对方推荐的投资或博彩网站都由骗子控制，钱投进去就取不出来。",
             "The investment or betting site they recommend is run by the fraudsters; money put in cannot be "
             "taken out."),
    ),
    FraudType.IMPERSONATE_MILITARY_BUYER: (
        Line("自称部队、武警采购，要您先垫付货款、去指定商家代购或交“保证金”的，都是诈骗。",
             "\"Army\" or \"armed police\" buyers who want you to advance money, buy from a named supplier or pay a "
             "deposit are fraudsters."),
        Line("请通过部队的正式公函和座机电话核实。",
             "Check through the unit's official letter and landline."),
    ),
    FraudType.BLACK_MARKET: (
        Line("网上自称能“黑客追款”“网贷黑户包过”“解封账户”的，收了钱就会消失。",
             "People online who promise to \"hack back\" lost money, get loans for blacklisted borrowers or unblock "
             "accounts vanish once paid."),
        Line("被骗的钱只能由公安机关依法追回，不要再向任何人付费。",
             "Only the police can recover stolen money; do not pay anyone else."),
    ),
    FraudType.OTHER: (
        Line("凡是陌生人通过电话或网络让您转账、交“保证金”或提供验证码的，都要先停下来核实。",
             "Whenever a stranger on the phone or online asks you to transfer, pay a deposit or give a code, stop "
             "and check first."),
        Line("请先挂断，再通过官方电话或当面核实对方身份。",
             "Hang up first, then check who they are on an official number or in person."),
    ),
}

SCRIPTS: dict[FraudType, Script] = {
    fraud_type: Script(fraud_type, OPENING, points, CLOSING) for fraud_type, points in _POINTS.items()
}


def script_for(fraud_type: str | None) -> Script:
    """The script for a fraud type (English code or Chinese name); the general one when unknown or missing."""
    if fraud_type:
        try:
            return SCRIPTS[FraudType.parse(fraud_type)]
        except ValueError:
            pass
    return SCRIPTS[FraudType.OTHER]
