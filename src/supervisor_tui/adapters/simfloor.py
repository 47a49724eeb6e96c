"""The simulated floor's people, queues and tickets in the floor's language (issue #21).

A floor in Vietnam has Vietnamese agents, queues named in Vietnamese and customers who write
in Vietnamese; so do the Chinese, Japanese and Ukrainian floors. English floors keep the
simulator's own names (``simulator.py``), so their recordings and screenshots never change.

Agents' names are real family and given names combined, in the order and form the country
writes them on a staff list: "Nguyễn Thị Lan", "王秀英", "佐藤 美咲", "Олена Коваленко".
Each language's combinations are put once in an order drawn from a fixed seed, common family
names more often first (as on a real floor, where a third of the Vietnamese are Nguyễn), and
agent ``i`` takes the ``i``-th: the same agent has the same name on every run, every name is
distinct, and a name costs nothing once the order is made (a list of ~20,000 per language).
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache

from rich.cells import cell_len

NAME_CELLS = 15
"""The widest name made, in terminal cells (Chinese and Japanese names keep to the agents
board's usual 12)."""


@dataclass(frozen=True, slots=True)
class FloorWords:
    """What a floor in one language calls its queues, brands and tickets."""

    queues: dict[str, str]
    """The English queue pattern's names, in the language."""
    brands: dict[str, str]
    subjects: tuple[str, ...]
    reasons: dict[str, str]
    """Away reasons (the helpdesk's custom statuses) by the simulator's English word."""


def _ordered(candidates: Iterable[tuple[str, float]], key: str, cells: int) -> tuple[str, ...]:
    """Every candidate name that fits in ``cells``, each once, in an order drawn from ``key``
    where a name of weight w comes first w times as often (Efraimidis-Spirakis)."""
    rng = random.Random(f"simfloor-{key}")
    ranked = [
        (rng.random() ** (1.0 / weight), name)
        for name, weight in candidates
        if cell_len(name) <= min(cells, NAME_CELLS)
    ]
    ranked.sort(reverse=True)
    return tuple(name for _, name in ranked)


def _combined(
    families: Iterable[tuple[str, float]], givens: Iterable[str], join: str
) -> Iterator[tuple[str, float]]:
    """Each family name with each given name, weighted by how common the family is."""
    for (family, weight), given in itertools.product(families, tuple(givens)):
        yield join.format(family=family, given=given), weight


# -- Vietnamese: Họ + tên đệm + tên; the middle name says whether it is a man or a woman -----

_VI_FAMILIES = (
    ("Nguyễn", 38.0),
    ("Trần", 11.0),
    ("Lê", 9.5),
    ("Phạm", 7.0),
    ("Hoàng", 3.0),
    ("Huỳnh", 2.0),
    ("Phan", 4.5),
    ("Vũ", 2.0),
    ("Võ", 2.0),
    ("Đặng", 2.1),
    ("Bùi", 2.0),
    ("Đỗ", 1.4),
    ("Hồ", 1.3),
    ("Ngô", 1.3),
    ("Dương", 1.0),
    ("Lý", 0.5),
    ("Đào", 0.5),
    ("Đinh", 0.5),
    ("Mai", 0.4),
    ("Trương", 0.5),
    ("Lâm", 0.4),
    ("Tô", 0.3),
    ("Hà", 0.4),
    ("Tạ", 0.3),
    ("Lương", 0.3),
    ("Cao", 0.3),
    ("Châu", 0.3),
    ("Kiều", 0.2),
    ("Quách", 0.2),
    ("Thái", 0.2),
)
_VI_WOMEN_GIVEN = (
    "Lan", "Mai", "Hoa", "Hương", "Linh", "Trang", "Thảo", "Hạnh", "Ngân", "Vy",
    "Yến", "Nhung", "Hà", "Anh", "Thư", "Trâm", "Nga", "Tâm", "Hiền", "Ly",
    "Châu", "Dung", "Quỳnh", "Nhi", "Giang", "Uyên", "Loan", "Diệp", "My", "Huyền",
)  # fmt: skip
_VI_WOMEN = tuple(
    f"{middle} {given}"
    for middle in ("Thị", "Ngọc", "Thu", "Thanh", "Minh", "Kim", "Bảo", "Mỹ", "Hồng", "Phương")
    for given in _VI_WOMEN_GIVEN
    if middle != given
)
_VI_MEN_GIVEN = (
    "An", "Bình", "Cường", "Dũng", "Hùng", "Huy", "Khang", "Khoa", "Long", "Minh",
    "Nam", "Phong", "Phúc", "Quân", "Sơn", "Tài", "Thắng", "Thành", "Trung", "Tuấn",
    "Việt", "Vinh", "Hải", "Hiếu", "Đạt", "Duy", "Kiên", "Lộc", "Tùng", "Tú",
)  # fmt: skip
_VI_MEN = tuple(
    f"{middle} {given}"
    for middle in ("Văn", "Đức", "Minh", "Quốc", "Hữu", "Thanh", "Công", "Gia", "Xuân", "Tuấn")
    for given in _VI_MEN_GIVEN
    if middle != given
)

# -- Chinese: 姓 + 名, no space ----------------------------------------------------------------

_ZH_FAMILIES = (
    *(
        (family, weight)
        for family, weight in zip(
            "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林高罗",
            (
                *(7.1, 7.0, 6.8, 5.4, 4.5, 3.1, 2.2, 2.1, 2.0, 1.9),
                *(1.5, 1.4, 1.3, 1.3, 1.2, 1.2, 1.1, 1.0, 1.0, 0.9),
            ),
            strict=True,
        )
    ),
    *(
        (family, 0.4)
        for family in "郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
        "姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯"
        "龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
    ),
    ("欧阳", 0.05),
    ("司马", 0.02),
    ("上官", 0.02),
    ("诸葛", 0.02),
)
_ZH_GIVEN = (
    "伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛",
    "明", "超", "霞", "平", "刚", "秀英", "秀兰", "桂英", "志强", "建华", "建国", "建军", "海燕",
    "红梅", "丽娟", "晓东", "晓燕", "文静", "婷婷", "欣怡", "梓涵", "子轩", "浩然", "宇轩", "思远",
    "雨桐", "佳怡", "俊杰", "嘉怡", "子豪", "一鸣", "天宇", "梦琪", "诗涵", "雅琴", "晨曦", "博文",
    "家豪", "明轩", "若曦", "可欣", "紫怡", "思彤", "振宇", "国强", "立新", "春梅", "海波", "鹏飞",
    "丹丹", "慧敏", "雪梅", "玉兰", "凤英", "金龙", "永刚", "志明", "晓峰", "文博", "亚楠", "宏伟",
    "德华", "俊熙", "雨萱", "欣妍", "静怡", "佳琪", "梦瑶", "子涵", "浩宇", "宇航", "昊天", "思琪",
    "晓丽", "建平", "建伟", "卫东", "红霞", "秀珍", "丽华", "小红", "小明", "海涛", "志刚", "春华",
    "爱华", "美玲", "晓光", "天佑", "嘉懿", "若汐", "沐阳", "一诺", "语桐", "奕辰", "睿泽", "欣然",
    "芷若", "晓彤", "振华", "新宇", "俊宇", "海洋", "雅婷", "文杰",
)  # fmt: skip

# -- Japanese: 姓 + 名, a space between as on a staff list -------------------------------------

_JA_TOP = (
    "佐藤", "鈴木", "高橋", "田中", "伊藤", "渡辺", "山本", "中村", "小林", "加藤",
    "吉田", "山田", "佐々木", "山口", "松本", "井上", "木村", "林", "斎藤", "清水",
)  # fmt: skip
_JA_MORE = (
    "山崎", "森", "池田", "橋本", "阿部", "石川", "山下", "中島", "石井", "小川",
    "前田", "岡田", "長谷川", "藤田", "後藤", "近藤", "村上", "遠藤", "青木", "坂本",
    "斉藤", "福田", "太田", "西村", "藤井", "金子", "岡本", "藤原", "中野", "三浦",
    "原田", "中川", "松田", "竹内", "小野", "田村", "中山", "和田", "石田", "森田",
    "上田", "原", "内田", "柴田", "酒井", "宮崎", "横山", "高木", "安藤", "宮本",
    "大野", "小島", "工藤", "谷口", "今井", "高田", "丸山", "増田", "杉山", "村田",
    "大塚", "小山", "平野", "藤本", "久保", "松井", "千葉", "岩崎", "桜井", "野口",
    "松尾", "菊地", "野村", "木下", "菅原", "市川", "新井", "佐野", "大西", "杉本",
)  # fmt: skip
_JA_FAMILIES = (
    *((family, 4.0 - 0.1 * rank) for rank, family in enumerate(_JA_TOP)),
    *((family, 1.0) for family in _JA_MORE),
)
_JA_GIVEN = (
    "美咲", "陽菜", "結衣", "葵", "さくら", "愛", "優花", "七海", "彩", "真由美",
    "恵子", "由美", "美穂", "直美", "智子", "裕子", "舞", "麻衣", "香織", "明美",
    "千尋", "花子", "莉子", "凛", "芽依", "結菜", "美月", "楓", "奈々", "彩花",
    "理恵", "久美子", "絵美", "沙織", "瞳", "遥", "茜", "涼子", "真理", "春香",
    "翔太", "大輔", "健太", "拓也", "直樹", "達也", "和也", "誠", "浩", "隆",
    "蓮", "大翔", "悠真", "陽斗", "湊", "颯太", "翔", "健一", "雄一", "哲也",
    "亮", "大樹", "修", "剛", "学", "聡", "勇気", "光", "康介", "慎也",
    "陸", "樹", "悠斗", "優斗", "圭", "智也", "翼", "航", "純一", "勝",
    "美紀", "由紀", "加奈", "早紀", "亜美", "さやか", "みなみ", "ゆい", "あかり", "ひなた",
    "洋子", "幸子", "京子", "順子", "和子", "拓海", "蒼", "悠人", "一郎", "健二",
    "正樹", "秀樹", "英樹", "裕太", "雄太", "俊介", "亮太", "駿", "匠", "海斗",
    "美香", "友美", "綾", "愛子", "真央", "萌", "菜摘", "晴美", "千夏", "綾香",
)  # fmt: skip

# -- Ukrainian: ім'я + прізвище; a surname in -ський/-цький agrees with a woman's name ----------

_UK_WOMEN = (
    "Олена", "Ірина", "Наталія", "Оксана", "Тетяна", "Юлія", "Ольга", "Світлана", "Марія",
    "Анна", "Катерина", "Вікторія", "Людмила", "Галина", "Софія", "Дарина", "Анастасія",
    "Христина", "Надія", "Віра", "Любов", "Яна", "Леся", "Мирослава", "Богдана", "Олеся",
    "Зоряна", "Соломія", "Уляна", "Ганна", "Євгенія", "Лілія", "Інна", "Алла", "Роксолана",
    "Ніна", "Лариса", "Тамара", "Ксенія", "Поліна", "Злата", "Аліна", "Діана", "Ярина",
    "Емілія", "Майя", "Міла", "Таїсія", "Орися", "Жанна", "Мар'яна", "Ліна", "Єва",
)  # fmt: skip
_UK_MEN = (
    "Олександр", "Андрій", "Сергій", "Володимир", "Дмитро", "Олег", "Микола", "Іван", "Юрій",
    "Василь", "Петро", "Богдан", "Тарас", "Максим", "Роман", "Віталій", "Ігор", "Михайло",
    "Євген", "Ярослав", "Остап", "Назар", "Денис", "Артем", "Степан", "Григорій", "Павло",
    "Костянтин", "Олексій", "Федір", "Антон", "Вадим", "Руслан", "Кирило", "Мирослав",
    "Ілля", "Лев", "Марко", "Матвій", "Данило", "Нестор", "Орест", "Борис", "Гліб", "Яків",
    "Леонід", "Едуард", "Семен", "Тимур", "Ігнат", "Валерій", "Любомир", "Зеновій",
)  # fmt: skip
_UK_SURNAMES = (
    "Мельник", "Шевченко", "Коваленко", "Бондаренко", "Бойко", "Ткаченко", "Кравченко",
    "Ковальчук", "Коваль", "Олійник", "Шевчук", "Поліщук", "Іваненко", "Ткачук", "Савченко",
    "Бондар", "Руденко", "Марченко", "Лисенко", "Мороз", "Петренко", "Клименко", "Павленко",
    "Кравчук", "Кушнір", "Гончар", "Левченко", "Харченко", "Савчук", "Мартинюк", "Мазур",
    "Романенко", "Карпенко", "Литвиненко", "Гнатюк", "Кузьменко", "Панченко", "Пономаренко",
    "Яковенко", "Кравець", "Юрченко", "Нестеренко", "Власенко", "Гуменюк", "Костенко",
    "Онищенко", "Прокопенко", "Головко", "Тимошенко", "Зінченко", "Сидоренко", "Білоус",
    "Собко", "Гаврилюк", "Дячук", "Яремчук", "Федорчук", "Гриценко", "Остапчук", "Ярошенко",
    "Стасюк", "Лук'яненко", "Демченко", "Захарченко", "Швець", "Приходько", "Кириленко",
    "Максименко", "Семенюк", "Пилипенко", "Тарасенко", "Антонюк", "Дмитренко", "Вовк",
    "Заїка", "Чорновол", "Іванів", "Петрів", "Процик", "Гринько", "Луценко", "Гордієнко",
    "Вакуленко", "Мирошниченко", "Назаренко", "Остапенко", "Марчук", "Кучер", "Сорока",
    "Бабенко", "Ященко", "Гайдай", "Дорошенко", "Сало", "Рибак", "Гуцал", "Данилюк", "Заєць",
    "Січкар", "Жук", "Кулик", "Когут", "Козак", "Голуб", "Лебідь", "Шпак", "Горобець", "Сова",
    "Середа", "Білик", "Лобода", "Нечай", "Хоменко", "Дзюба", "Куліш", "Бабій", "Черняк",
    "Шульга", "Стельмах", "Костюк", "Гавриш", "Рудь", "Фесенко", "Костів", "Пасічник",
    "Щербак", "Ковтун", "Тищенко", "Литвин", "Тесля", "Боднар", "Дяченко", "Чумак", "Пушкар",
    "Павлюк", "Петрук", "Гнатів", "Стахів", "Дудка", "Кравців", "Лисак", "Грищук", "Палій",
    "Мацюк", "Бабич", "Гук", "Сич", "Кіт", "Дуб", "Гай", "Бурлака", "Довженко", "Ярмолюк",
)  # fmt: skip
_UK_AGREEING = (
    ("Ковальський", "Ковальська"),
    ("Савицький", "Савицька"),
    ("Вишневський", "Вишневська"),
    ("Стецький", "Стецька"),
    ("Білецький", "Білецька"),
    ("Лозинський", "Лозинська"),
    ("Гошовський", "Гошовська"),
    ("Яворський", "Яворська"),
)


def _ukrainian() -> Iterator[tuple[str, float]]:
    surnames = [(s, s) for s in _UK_SURNAMES] + list(_UK_AGREEING)
    for rank, (man, woman) in enumerate(surnames):
        weight = 2.0 if rank < 20 else 1.0  # the twenty commonest surnames first
        yield from ((f"{given} {woman}", weight) for given in _UK_WOMEN)
        yield from ((f"{given} {man}", weight) for given in _UK_MEN)


WORDS: dict[str, FloorWords] = {
    "vi": FloorWords(
        queues={
            "Voice · Sales": "Tổng đài · Bán hàng",
            "Voice · Support": "Tổng đài · Hỗ trợ",
            "Chat": "Chat",
            "Email · Billing": "Email · Hóa đơn",
            "Email · Tech": "Email · Kỹ thuật",
        },
        brands={"Retail": "Bán lẻ", "IT": "CNTT", "Ops": "Vận hành"},
        subjects=(
            "Chưa nhận được tiền hoàn",
            "Hóa đơn ghi sai số tiền",
            "Không đăng nhập được sau khi đặt lại mật khẩu",
            "Hàng nhận được bị hư hỏng",
            "Đổi địa chỉ giao hàng",
            "Bị trừ tiền hai lần trong tháng",
            "Ứng dụng bị văng khi mở",
            "Hủy gói đăng ký của tôi",
            "Đơn hàng của tôi đang ở đâu?",
            "Xuất dữ liệu bị lỗi 500",
        ),
        reasons={"Break": "Giải lao", "Lunch": "Ăn trưa"},
    ),
    "zh": FloorWords(
        queues={
            "Voice · Sales": "电话 · 销售",
            "Voice · Support": "电话 · 客服",
            "Chat": "在线客服",
            "Email · Billing": "邮件 · 账单",
            "Email · Tech": "邮件 · 技术",
        },
        brands={"Retail": "零售", "IT": "IT", "Ops": "运维"},
        subjects=(
            "退款还没到账",
            "发票金额不对",
            "重置密码后无法登录",
            "收到的商品已损坏",
            "修改收货地址",
            "本月被重复扣款",
            "应用一打开就闪退",
            "取消我的订阅",
            "我的订单到哪儿了？",
            "导出失败，报错 500",
        ),
        reasons={"Break": "小休", "Lunch": "午餐"},
    ),
    "ja": FloorWords(
        queues={
            "Voice · Sales": "電話 · 営業",
            "Voice · Support": "電話 · サポート",
            "Chat": "チャット",
            "Email · Billing": "メール · 請求",
            "Email · Tech": "メール · 技術",
        },
        brands={"Retail": "リテール", "IT": "IT", "Ops": "運用"},
        subjects=(
            "返金がまだ届いていません",
            "請求書の金額が違います",
            "パスワード再設定後にログインできません",
            "届いた商品が破損していました",
            "お届け先住所を変更したい",
            "今月二重に請求されています",
            "アプリが起動時に落ちます",
            "定期購入を解約したい",
            "注文した商品はいつ届きますか？",
            "エクスポートがエラー500で失敗します",
        ),
        reasons={"Break": "休憩", "Lunch": "昼休憩"},
    ),
    "uk": FloorWords(
        queues={
            "Voice · Sales": "Дзвінки · Продажі",
            "Voice · Support": "Дзвінки · Підтримка",
            "Chat": "Чат",
            "Email · Billing": "Пошта · Оплата",
            "Email · Tech": "Пошта · Техпідтримка",
        },
        brands={"Retail": "Роздріб", "IT": "ІТ", "Ops": "Операції"},
        subjects=(
            "Не надійшло повернення коштів",
            "У рахунку неправильна сума",
            "Не можу увійти після скидання пароля",
            "Замовлення прийшло пошкодженим",
            "Змінити адресу доставки",
            "Цього місяця гроші списали двічі",
            "Застосунок вилітає під час запуску",
            "Скасувати мою підписку",
            "Де моє замовлення?",
            "Експорт не вдається: помилка 500",
        ),
        reasons={"Break": "Перерва", "Lunch": "Обід"},
    ),
}
"""The floor's words in each language but English (which keeps the simulator's own)."""


@cache
def names(language: str) -> tuple[str, ...]:
    """Every agent name of the language, in the order agents take them (empty: English)."""
    if language == "vi":
        return _ordered(_combined(_VI_FAMILIES, _VI_WOMEN + _VI_MEN, "{family} {given}"), "vi", 16)
    if language == "zh":
        return _ordered(_combined(_ZH_FAMILIES, _ZH_GIVEN, "{family}{given}"), "zh", 12)
    if language == "ja":
        return _ordered(_combined(_JA_FAMILIES, _JA_GIVEN, "{family} {given}"), "ja", 12)
    if language == "uk":
        return _ordered(_ukrainian(), "uk", 16)
    return ()


def agent_name(language: str, i: int) -> str:
    """Agent ``i``'s name; past the language's combinations, numbered as the English are."""
    book = names(language)
    name = book[i % len(book)]
    return name if i < len(book) else f"{name} {i}"


def customer_name(language: str, draw: int) -> str:
    """A customer's name from a draw of the floor's random numbers (any int)."""
    book = names(language)
    return book[-1 - draw % len(book)]  # from the far end: rarely an agent's name
