"""Fraud-type classifier for Chinese report narratives (DOMAIN.md §6).

A transparent weighted cue lexicon: each cue is a word or short regex that votes for one or more types
with a weight. An officer can read why a type was chosen (``evidence``) and a maintainer can fix a
mistake by editing one line, which a statistical model trained on a few hundred narratives would not
allow.

Decisions worth knowing:
- 网黑案件 (online black-market cases) = the victim was cheated while seeking an illegal or grey
  service: online gambling (网赌, 博彩, card-game apps, "won but cannot withdraw"), nude-chat extortion
  (裸聊敲诈), paid sex services, hackers or "recovery" of gambling losses (出黑), fake documents. Police
  count these apart because the victim's own conduct is unlawful.
- 杀猪盘: a romance that steers the victim onto an investment platform is scored by the loss mechanism;
  investment cues outweigh romance cues, so money into a "platform" reads as 虚假网络投资理财 and money
  handed to the "partner" (gifts, customs fees, emergencies, bride price) as 网络婚恋、交友.
- A head-office or boss impersonation by e-mail (the seed's 299万欧元 case) is 冒充领导、熟人; so are
  fake teachers in parents' groups and AI face-swap calls from "friends".
- 冒充军警购物 covers any uniformed buyer (army, armed police, police equipment office, fire brigade)
  who orders goods and makes the merchant advance money to a "designated supplier".
- A fake platform customer-service call (京东客服, 抖音客服) is 冒充电商物流客服 even when it threatens the
  victim's credit record; a fake regulator or lender cancelling a student loan is 虚假征信.
- 其他 has its own cues for known sub-types outside the twelve (fake prizes, flight changes, ETC,
  carrier points, utility bills, charity) and is the fallback when no type reaches a floor score.
- Record boilerplate (报警, 民警, 派出所 as the place of report, 诈骗, 被骗) is deliberately not a cue:
  every narrative has it.
- A cue right after a light negation (不是, 并非, 没有...) in the same clause counts a tenth.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from fanzha.cases.fraud_types import FraudType

__all__ = ["FraudTypeGuess", "classify_fraud_type"]


@dataclass(frozen=True, slots=True)
class FraudTypeGuess:
    type: FraudType
    confidence: float  # 0..1
    evidence: list[tuple[str, int, int]]  # (matched text, start, end), [start, end) offsets into the text


T = FraudType

# Common surnames: "张总", "王局长" is how a narrative names an impersonated boss.
_SURNAME = (
    "[王李张刘陈杨黄赵吴周徐孙马朱胡郭何林高罗郑梁谢宋唐许韩冯邓曹彭曾肖田董潘袁蔡蒋余于杜叶程魏苏吕丁任沈姚卢"
    "姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤]"
)

# Cue lexicon: type -> (pattern, weight). Patterns are regexes without capturing groups; each
# top-level alternative must start with a literal character or a character class. A pattern listed
# under several types votes for each with its own weight. Weights: 5 = decisive on its own,
# 3 = strong, 2 = typical, 1 = weak support. A gap ``.{0,N}`` never crosses a sentence end.
_LEXICON: dict[FraudType, tuple[tuple[str, float], ...]] = {
    T.TASK_REBATE: (
        (r"刷单", 5), (r"刷信誉", 4), (r"刷销量|冲销量|冲量|刷量|刷好评", 4), (r"拍单|做单|抢单|放单", 3.5),
        (r"点赞", 3), (r"做任务", 3.5), (r"任务单", 3.5), (r"任务(?:群|平台|大厅)", 3), (r"任务", 1),
        (r"派单", 3), (r"接单", 1.5), (r"连单", 4), (r"卡单", 4), (r"福利单", 3), (r"返利", 3),
        (r"返佣", 3.5), (r"佣金", 2.5), (r"本金(?:加|和|及)?佣金", 3), (r"(?:返还|返)本金", 2),
        (r"返款|返现", 2.5), (r"提成", 1.5), (r"报酬|酬劳", 1.5), (r"垫付|垫资|垫进去|垫钱", 1.5),
        (r"兼职", 2.5), (r"日结", 2), (r"手工活", 2), (r"打字员", 2.5), (r"接待员", 2.5), (r"好评", 2),
        (r"悬赏", 3), (r"试玩", 2.5), (r"(?:领|抢|发)?红包", 1), (r"关注(?:抖音|快手|公众号)", 3),
        (r"(?:抖音|快手|视频号)(?:博主|主播)?.{0,6}(?:点赞|关注)", 3),
    ),
    T.FAKE_CUSTOMER_SERVICE: (
        (r"(?:淘宝|天猫|京东|拼多多|唯品会|抖音|快手|闲鱼)(?:商城|平台|店铺)?(?:官方)?客服", 6),
        (r"(?:快递|物流|顺丰|中通|圆通|韵达|申通|EMS)(?:公司)?(?:的)?(?:客服|理赔)", 5), (r"快递", 2.5),
        (r"物流", 2.5), (r"包裹", 1.5), (r"丢件|快递(?:丢失|遗失)|(?:货物|包裹)(?:丢失|遗失)", 3),
        (r"理赔", 4), (r"双倍赔偿|(?:三|两)倍赔偿", 3.5), (r"赔偿", 1.5), (r"退款", 2.5), (r"退货", 2),
        (r"质量问题", 2.5), (r"百万保障", 5), (r"会员(?:服务)?(?:自动)?(?:续费|扣费)", 4),
        (r"取消(?:会员|代理|扣费|服务)", 3.5), (r"(?:自动|每月|每个月).{0,8}扣(?:费|款)", 3.5),
        (r"学生代理", 5), (r"客服", 1.5), (r"淘宝|天猫|拼多多|唯品会", 1.5), (r"网购", 1.5),
        (r"店铺|网店", 1.5), (r"商品(?:有|存在)", 1.5), (r"下架|召回", 2.5), (r"屏幕共享", 1),
    ),
    T.FAKE_INVESTMENT: (
        (r"投资", 3), (r"理财", 3), (r"导师", 3), (r"荐股", 4.5), (r"股票", 2), (r"炒股", 3), (r"炒币", 4),
        (r"虚拟(?:货)?币", 3.5), (r"数字(?:货币|资产)", 3.5), (r"USDT|泰达币|比特币|以太坊", 3.5),
        (r"数字币|加密货币|区块链|元宇宙", 3), (r"矿机|挖矿", 4), (r"外汇", 3), (r"期货", 3),
        (r"黄金(?:交易|投资|现货)", 3), (r"原始股", 4), (r"打新|新股|基金", 2), (r"认购|私募|上市", 2.5),
        (r"股份|股权", 1.5), (r"涨停|牛股|财经直播", 3), (r"杠杆", 2.5), (r"收益", 2),
        (r"(?:高|稳赚|保本)(?:收益|回报)|稳赚不赔", 3), (r"盈利", 2), (r"回报", 1.5), (r"回本|分红|年化|复利", 2),
        (r"平台", 1), (r"充值", 1.5), (r"提现", 1.5), (r"无法提现|不能提现|提现失败|提不了现|不予提现", 2.5),
        (r"带单", 3.5), (r"内幕", 2.5), (r"股民|炒股群|股票群|投资群", 3.5), (r"K线|行情", 2), (r"老师", 1),
        (r"直播间", 1), (r"入金|出金", 3), (r"(?:个人所得|手续)税.{0,6}(?:提现|出金)", 2), (r"跑路|项目方", 1.5),
    ),
    T.FAKE_LOAN: (
        (r"贷款", 3.5), (r"网贷", 2), (r"借款", 1.5), (r"放款", 3), (r"放贷|贷款平台|贷款(?:APP|软件)", 2),
        (r"额度", 1.5), (r"解冻金", 4), (r"流水", 2.5), (r"验资", 2.5), (r"保证金", 1.5), (r"工本费", 2),
        (r"手续费", 1), (r"会员费", 1.5), (r"利息|低息|无抵押|免息", 2), (r"还款能力", 2.5),
        (r"代办信用卡|办理信用卡|信用卡(?:提额|办理|代办)|提额", 4), (r"信用卡", 1),
        (r"(?:银行)?卡号(?:填写|填)错", 4), (r"资金(?:被)?冻结|账户(?:被)?冻结", 1.5),
        (r"征信不好|黑户|无需征信|不看征信", 2), (r"包装(?:资料|流水)?", 1.5),
    ),
    T.FAKE_CREDIT_REPAIR: (
        (r"征信", 2.5), (r"影响(?:个人)?征信|征信(?:受损|受影响|有污点|记录)", 4.5), (r"修复征信|征信修复|洗白征信", 5),
        (r"校园贷", 4), (r"学生贷", 3.5), (r"名校贷|毕业", 1.5), (r"学生(?:时期|时候|期间)", 2),
        (r"注销(?:账户|账号|贷款账户)?", 2.5), (r"消除(?:逾期|不良)(?:记录)?", 4), (r"逾期(?:记录)?", 1.5),
        (r"信用记录|失信(?:人员|名单)?", 2), (r"不良记录|不良信用|信用污点", 3), (r"人民银行|央行", 1.5),
        (r"核销", 2), (r"京东金条|微粒贷|借呗|花呗|白条", 1.5), (r"清空额度|额度清零", 3),
        (r"(?:花呗|借呗|白条|金条|微粒贷)[^。]{0,12}(?:关闭|注销|清零)", 3),
        (r"(?:国家|银保监会?|金融监管总局).{0,8}(?:政策|要求)", 2),
    ),
    T.FAKE_SHOPPING: (
        (r"购买", 2), (r"买", 0.5), (r"卖家", 2.5), (r"商家", 1), (r"二手", 2.5), (r"闲鱼|转转", 2),
        (r"发货", 2.5), (r"未(?:收到|见)(?:货|商品)|一直没(?:有)?发货|迟迟(?:不|未)发货", 3.5),
        (r"定金|订金", 2), (r"代购", 3.5), (r"低价", 2), (r"门票", 3), (r"演唱会", 2.5), (r"茅台", 2.5),
        (r"朋友圈(?:看到|发布|售卖|卖)", 2.5), (r"微商", 2.5), (r"货款", 2), (r"预订|预定", 1.5),
        (r"宠物|猫咪|狗狗|幼犬|幼猫", 2.5), (r"代写|代考|办理(?:驾照|学历)", 2), (r"运费", 1.5),
        (r"(?:预付|先付)款", 2), (r"口罩|手机|iPhone|苹果手机|显卡|相机", 1), (r"商品", 1),
        (r"抢票|代抢", 3), (r"租房|房租|押金", 2), (r"中介费", 2), (r"出售|转让|卖", 1),
    ),
    T.IMPERSONATE_AUTHORITY: (
        (r"公安局|公安分局|公安厅|公安部", 2.5), (r"公安", 1.5), (r"警官", 3), (r"刑警|刑侦", 3),
        (r"自称.{0,10}(?:公安|警察|警官|民警|检察|法院|法官|刑警)", 4.5), (r"检察院|检察官", 3.5),
        (r"法院|法官", 3), (r"通缉", 4.5), (r"逮捕|拘捕|拘留", 3), (r"洗钱", 4.5), (r"安全账户", 5),
        (r"资产清查|资金清查|清查资金", 5), (r"清查", 2), (r"涉案|涉嫌", 2.5), (r"保密(?:协议|令)?", 1.5),
        (r"(?:视频)?笔录", 1.5), (r"冻结令|逮捕令|通缉令", 3), (r"医保(?:卡|局)?", 2.5), (r"社保(?:局|卡)", 2),
        (r"卫健委|疾控中心|流调", 3), (r"税务局", 2.5), (r"电信局|通信管理局|工信部", 2.5), (r"反诈中心", 1.5),
        (r"身份(?:信息)?被(?:冒用|盗用)", 3), (r"非法(?:出入境|集资)|贩毒|走私", 2.5), (r"核查|调查", 1),
        (r"公检法", 3), (r"传唤|立案", 1.5), (r"(?:政府|民政局|人社局|市场监管局)(?:工作人员)?", 1.5),
    ),
    T.IMPERSONATE_ACQUAINTANCE: (
        (r"领导", 3), (r"老板", 3), (r"总经理|董事长|老总|总裁", 3), (r"局长|处长|校长|主任|科长", 1.5),
        (_SURNAME + r"(?:总|董)", 3), (_SURNAME + r"(?:局长|处长|主任|经理|书记|校长|科长)", 2),
        (r"老同学|同学", 2), (r"熟人|亲戚|朋友|老乡|好友", 1), (r"换(?:了)?(?:新)?(?:号|号码|微信|QQ)", 3.5),
        (r"新号|新微信|新QQ", 2.5), (r"QQ", 1.5), (r"头像", 2.5), (r"(?:加|添加).{0,4}好友", 1.5),
        (r"冒充.{0,6}(?:领导|老板|老师|同学|亲戚|朋友|儿子|女儿|舅|叔|姑|总)", 5), (r"借(?:钱|款)", 1),
        (r"急(?:需|用)(?:用)?钱?", 1.5), (r"送礼|打点", 2.5), (r"财务|会计|出纳", 2.5),
        (r"总公司|母公司|集团总部", 3.5), (r"(?:电子)?邮件|邮箱", 2.5), (r"工作群|公司群", 2), (r"报销", 1.5),
        (r"儿子|女儿|侄子|外甥|孙子", 1.5), (r"班主任|学费|资料费", 2), (r"出车祸|住院|被抓", 1),
        (r"(?:转账|汇款)给(?:客户|合作方|对方公司)", 2), (r"拉(?:进|入).{0,4}群", 1), (r"走账", 3),
        (r"AI换脸|换脸|合成(?:视频|声音)|脸和声音", 4),
        (r"(?:打电话|联系|致电)给?(?:儿子|女儿|外甥|同学|好友|朋友|领导|老板)(?:本人)?", 3),
    ),
    T.GAME_TRADE: (
        (r"游戏", 3), (r"游戏(?:账号|帐号|币|装备|道具|点券)", 5), (r"装备", 3), (r"皮肤", 3),
        (r"王者荣耀|和平精英|原神|英雄联盟|梦幻西游|逆水寒|我的世界|第五人格|崩坏|穿越火线|地下城", 5),
        (r"点券|钻石|金币|元宝", 2), (r"代练|陪玩", 3), (r"交易猫|盼之|螃蟹账号|易手游|5173", 5),
        (r"(?:账号|帐号)(?:交易|买卖|出售|估价)", 3), (r"防沉迷|未成年", 2), (r"(?:买|卖|收)号", 3),
        (r"账号|帐号", 0.5),
    ),
    T.ROMANCE: (
        (r"交友", 3), (r"婚恋", 4.5), (r"网恋", 4.5), (r"男友|女友|男朋友|女朋友", 3), (r"相亲", 3.5),
        (r"结婚|婚后|彩礼|订婚", 2), (r"婚介|红娘", 3), (r"恋爱|恋人|暧昧", 3), (r"见面|约会", 1.5),
        (r"老公|老婆|宝贝|亲爱的", 1.5), (r"礼物|包裹被扣|海关", 1.5), (r"世纪佳缘|百合网|珍爱网", 5),
        (r"探探|陌陌|Soul|soul|积目|Tinder", 3), (r"军医|维和|单身|离异|丧偶", 2), (r"感情|好感|表白", 2.5),
        (r"(?:网上|网络上?)认识", 1.5), (r"嘘寒问暖|甜言蜜语|共同生活|一起生活", 3), (r"网友", 1),
        (r"认识(?:了)?一(?:名|位|个)[^,，。]{0,12}(?:男子|女子|男士|女士|女孩|男人|女人)", 2.5),
    ),
    T.IMPERSONATE_MILITARY_BUYER: (
        (r"部队|军营|军区|营区", 2.5), (r"军人|军官|士兵|战士|首长|连长|排长|班长", 1.5), (r"武警", 2.5),
        (r"司务长|后勤(?:部|处)?|军需", 4), (r"采购", 2.5), (r"订购|订货|供货|订(?:餐|饭)", 2),
        (r"(?:部队|军|武警|消防|派出所|监狱|特警).{0,12}(?:采购|订购|订餐|订货|购买|下单)", 5),
        (r"冒充.{0,6}(?:军人|部队|武警|军官|消防|特警)", 5), (r"(?:军人|军官)证", 3), (r"对公账户", 1.5),
        (r"(?:垫付|代付|先付).{0,6}(?:货款|厂家|供应商)|(?:供应商|厂家).{0,8}(?:垫付|代付|付款)", 3),
    ),
    T.BLACK_MARKET: (
        (r"网赌|赌博|博彩|赌场|赌球|赌资", 5), (r"百家乐|六合彩|时时彩|牛牛|老虎机|真人视讯", 5),
        (r"棋牌|捕鱼|斗牛|炸金花|推筒子", 4), (r"赌", 2), (r"下注|投注|押注|中奖率", 3),
        (r"彩金|流水不足|风控审核|注单异常", 4), (r"彩票", 2), (r"输光|赢了|输了", 1.5), (r"裸聊", 6),
        (r"不雅(?:视频|照片)|私密(?:视频|照片)", 4.5), (r"脱衣|录屏|裸露|露骨", 4), (r"视频聊天|视频裸聊", 1.5),
        (r"发(?:到|给)[^。]{0,10}(?:家人|同事|亲友|通讯录|朋友)", 3), (r"敲诈|勒索", 3), (r"通讯录", 1.5),
        (r"色情|约炮|上门服务|特殊服务|外围", 4), (r"黑客", 3.5), (r"出黑|追款|追回(?:损失|赌资)", 4),
        (r"跑分|洗白|代收款", 3.5), (r"(?:办|买)假证|假(?:证件|驾照|驾驶证|学历|文凭|身份证)", 4.5),
    ),
    T.OTHER: (
        (r"中奖|抽中|幸运(?:观众|用户)", 4), (r"刮刮卡|兑奖", 5), (r"(?:一|二|三|特)等奖", 3),
        (r"节目组|奖品|领奖", 3), (r"航班|机票改签|改签|延误|航空公司", 3.5), (r"ETC", 5),
        (r"积分(?:兑换|清零|到期)", 4.5), (r"慈善|募捐|捐款|义捐", 3.5), (r"电费|水费|燃气费|停电|停水|水电", 3),
        (r"实名(?:认证|信息)", 2), (r"保险公司|退保", 3), (r"(?:手机号|电话卡)(?:将被|即将)?停机", 2.5),
        (r"粉丝|明星|应援", 3), (r"(?:补贴|补助)金?", 1.5), (r"冒充(?:运营商|移动|联通|电信)", 3),
    ),
}

# Two-cue combinations that mean more together than apart: (type, pattern A, pattern B, bonus). They
# count only for a type that already has a cue of its own.
_COMBOS: tuple[tuple[FraudType, str, str, float], ...] = (
    (T.IMPERSONATE_MILITARY_BUYER, r"部队|军|武警|消防|特警|营区", r"采购|订购|订餐|订货|供货|下单", 4),
    (T.FAKE_LOAN, r"贷款|放款|借款", r"解冻|流水|保证金|验资|卡号.{0,2}错", 3),
    (T.FAKE_CREDIT_REPAIR, r"征信|信用记录|失信", r"注销|校园贷|学生贷|名校贷|清空|消除|关闭", 3),
    (T.IMPERSONATE_AUTHORITY, r"公安|警|检察|法院|法官", r"安全账户|洗钱|通缉|涉案|清查|保密", 3),
    (T.IMPERSONATE_ACQUAINTANCE, r"领导|老板|总经理|董事长|总公司|老总", r"转账|汇款|打款|付款|借", 2),
    (T.ROMANCE, r"男友|女友|男朋友|女朋友|网恋|交友|婚恋|相亲|恋爱", r"借|急用|礼物|海关|医药费|彩礼|路费|机票", 2),
    (T.BLACK_MARKET, r"裸聊|视频聊天|不雅|脱衣|录屏", r"敲诈|勒索|通讯录|曝光|发给|发到", 4),
    (T.GAME_TRADE, r"游戏|账号|帐号", r"冻结|解冻|保证金|交易平台", 2),
)

_NEGATION = re.compile(r"(?:不是|并非|并不是|没有|从未|从没|未曾|不属于|不涉及|与.{0,4}无关)\S{0,3}$")
_NEGATION_LOOKBACK = 8  # characters before a cue examined for a negation
_NEGATION_FACTOR = 0.1
_CLAUSE_BREAK = re.compile(r"[，,。.;；！!？?\n]")

_OTHER_FLOOR = 3.0  # 其他 wins unless some type scores at least this much (one strong cue)
_TEMPERATURE = 2.0  # softmax temperature over scores: a lead of one strong cue (3) gives odds e^1.5
_REPEAT_BONUS = 0.25  # each repeat of a cue adds this share of its weight...
_MAX_REPEATS = 3  # ...counting at most this many mentions

_GAP = re.compile(r"\.\{0,(\d+)\}\??")
_GAP_CLASS = "[^。；;！!？?\\n]{0,%s}?"
_NOT_LITERAL = frozenset("()]{}.?*+\\|^$")


def _split_top(pattern: str) -> list[str]:
    """Split a pattern at its top-level ``|`` (not inside groups or classes)."""
    parts: list[str] = []
    depth = start = i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            i += 2
            continue
        if ch == "[":
            i = pattern.index("]", i + 1) + 1
            continue
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "|" and depth == 0:
            parts.append(pattern[start:i])
            start = i + 1
        i += 1
    parts.append(pattern[start:])
    return parts


def _expand(pattern: str) -> list[str]:
    """Rewrite a cue as alternatives that each start with a literal (or a class): ``(?:淘宝|天猫)客服``
    becomes ``淘宝客服`` and ``天猫客服``, ``(?:电子)?邮件`` becomes ``电子邮件`` and ``邮件``."""
    out: list[str] = []
    for alt in _split_top(pattern):
        if not alt.startswith("(?:"):
            out.append(alt)
            continue
        depth, close = 0, 0
        for close, ch in enumerate(alt):  # noqa: B007 - close ends on the matching parenthesis
            depth += (ch == "(") - (ch == ")")
            if depth == 0:
                break
        rest = alt[close + 1 :]
        optional = rest.startswith("?")
        if optional:
            rest = rest[1:]
        for inner in _split_top(alt[3:close]):
            out.extend(_expand(inner + rest))
        if optional:
            out.extend(_expand(rest))
    return out


_Votes = tuple[tuple[FraudType, float], ...]
_Scanner = tuple[re.Pattern[str], tuple[int, ...]]  # regex, cue index of each empty group


def _scanner(alternatives: dict[str, int], factor_first: bool) -> _Scanner:
    """One alternation in which each alternative ends in an empty group numbering its cue
    (``match.lastindex``). Longer alternatives go first so that a specific cue (淘宝客服) wins over a
    shorter one (淘宝) at the same position."""
    ordered = sorted(alternatives, key=lambda alt: (-len(alt), alt))
    if not factor_first:
        pattern = "|".join(f"{alt}()" for alt in ordered)
        return re.compile(pattern), tuple(alternatives[alt] for alt in ordered)
    # Factor out the first character (a one-level trie). With every branch starting with a literal,
    # ``re`` skips positions whose character starts no cue in C, and at the others compares one
    # character per distinct first character instead of trying every alternative.
    by_first: dict[str, list[str]] = {}
    for alt in ordered:
        by_first.setdefault(alt[0], []).append(alt)
    branches: list[str] = []
    cues: list[int] = []
    for first, alts in by_first.items():
        branches.append(re.escape(first) + "(?:" + "|".join(f"{alt[1:]}()" for alt in alts) + ")")
        cues.extend(alternatives[alt] for alt in alts)
    return re.compile("|".join(branches)), tuple(cues)


def _build() -> tuple[tuple[_Scanner, ...], tuple[_Votes, ...]]:
    """Compile the lexicon: identical patterns under several types become one cue voting for each."""
    votes: dict[str, list[tuple[FraudType, float]]] = {}
    for ftype, cues in _LEXICON.items():
        for pattern, weight in cues:
            votes.setdefault(pattern, []).append((ftype, float(weight)))
    try:
        return _compile(votes)
    except re.error:
        for pattern in votes:  # name the bad cue (compiling each up front would double the import time)
            re.compile(pattern)
        raise


def _compile(votes: dict[str, list[tuple[FraudType, float]]]) -> tuple[tuple[_Scanner, ...], tuple[_Votes, ...]]:
    literal: dict[str, int] = {}
    classed: dict[str, int] = {}  # alternatives starting with a character class: a second, small scan
    for cue, pattern in enumerate(votes):
        for raw in _expand(pattern):
            alt = _GAP.sub(lambda m: _GAP_CLASS % m.group(1), raw)
            if not alt or alt[0] in _NOT_LITERAL or alt[1:2] in ("?", "*", "+", "{"):
                raise ValueError(f"cue alternative must start with a literal or a class: {alt!r} ({pattern!r})")
            (classed if alt[0] == "[" else literal).setdefault(alt, cue)
    scanners = [_scanner(literal, factor_first=True)]
    if classed:
        scanners.append(_scanner(classed, factor_first=False))
    return tuple(scanners), tuple(tuple(v) for v in votes.values())


_SCANNERS, _CUE_VOTES = _build()
_COMBO_RES: tuple[tuple[FraudType, re.Pattern[str], re.Pattern[str], float], ...] = tuple(
    (ftype, re.compile(a), re.compile(b), bonus) for ftype, a, b, bonus in _COMBOS
)


def _negated(text: str, start: int) -> bool:
    """A light negation just before ``start`` in the same clause (不是公安, 没有贷款)."""
    window = text[max(0, start - _NEGATION_LOOKBACK) : start]
    breaks = list(_CLAUSE_BREAK.finditer(window))
    if breaks:
        window = window[breaks[-1].end() :]
    return bool(_NEGATION.search(window))


def classify_fraud_type(text: str) -> FraudTypeGuess:
    """Most likely fraud type of a narrative, with a confidence and the cues that support it."""
    scores: dict[FraudType, float] = dict.fromkeys(FraudType, 0.0)
    evidence: dict[FraudType, list[tuple[str, int, int]]] = {t: [] for t in FraudType}
    mentions: dict[int, int] = {}
    for regex, group_cue in _SCANNERS:
        for match in regex.finditer(text):
            if match.lastindex is None:  # pragma: no cover - every alternative ends in a group
                continue
            cue = group_cue[match.lastindex - 1]
            count = mentions.get(cue, 0)
            mentions[cue] = count + 1
            if count >= _MAX_REPEATS:
                continue
            start, end = match.span()
            negated = _negated(text, start)
            share = (_NEGATION_FACTOR if negated else 1.0) * (1.0 if count == 0 else _REPEAT_BONUS)
            for ftype, weight in _CUE_VOTES[cue]:
                scores[ftype] += weight * share
                if not negated:
                    evidence[ftype].append((match.group(), start, end))
    for ftype, first, second, bonus in _COMBO_RES:
        if scores[ftype] > 0 and first.search(text) and second.search(text):
            scores[ftype] += bonus

    best = max(scores, key=lambda t: scores[t])
    if scores[best] < _OTHER_FLOOR:
        best = T.OTHER
    # The floor stands as 其他's score, so a narrative with weak cues keeps a low confidence.
    scores[T.OTHER] = max(scores[T.OTHER], _OTHER_FLOOR)
    top = max(scores.values())
    weights = {t: math.exp((s - top) / _TEMPERATURE) for t, s in scores.items()}
    confidence = weights[best] / sum(weights.values())
    cues = sorted(evidence[best], key=lambda cue: cue[1])
    return FraudTypeGuess(type=best, confidence=round(confidence, 4), evidence=cues)
