"""The words of the demo data set: names per locale (own script and romanised), domains,
currencies, products, carriers, queues, dispositions with agents' notes, complaint texts.

Kept apart from the generator so the vocabulary can grow without touching the logic.
"""

from __future__ import annotations

# (native script, romanised) name parts per locale
NAMES: dict[str, tuple[list[tuple[str, str]], list[tuple[str, str]]]] = {
    "en": (
        [
            (n, n)
            for n in (
                "James",
                "Mary",
                "Robert",
                "Patricia",
                "John",
                "Jennifer",
                "Michael",
                "Linda",
                "David",
                "Elizabeth",
                "William",
                "Sarah",
                "Thomas",
                "Emma",
                "Oliver",
                "Sophie",
                "Daniel",
                "Grace",
            )
        ],
        [
            (n, n)
            for n in (
                "Smith",
                "Johnson",
                "Williams",
                "Brown",
                "Jones",
                "Garcia",
                "Miller",
                "Davis",
                "Wilson",
                "Taylor",
                "Clark",
                "Walker",
                "Hall",
                "Young",
                "O'Brien",
                "Evans",
            )
        ],
    ),
    "ja": (
        [
            ("太郎", "taro"),
            ("花子", "hanako"),
            ("健太", "kenta"),
            ("美咲", "misaki"),
            ("翔", "sho"),
            ("陽菜", "hina"),
            ("大輔", "daisuke"),
            ("結衣", "yui"),
            ("蓮", "ren"),
            ("さくら", "sakura"),
        ],
        [
            ("佐藤", "sato"),
            ("鈴木", "suzuki"),
            ("高橋", "takahashi"),
            ("田中", "tanaka"),
            ("伊藤", "ito"),
            ("渡辺", "watanabe"),
            ("山本", "yamamoto"),
            ("中村", "nakamura"),
            ("小林", "kobayashi"),
            ("加藤", "kato"),
        ],
    ),
    "th": (
        [
            ("สมชาย", "somchai"),
            ("สมศรี", "somsri"),
            ("วิชัย", "wichai"),
            ("สุดา", "suda"),
            ("อนันต์", "anan"),
            ("มาลี", "malee"),
            ("ธนพล", "thanapon"),
            ("กนกวรรณ", "kanokwan"),
        ],
        [
            ("ศรีสุข", "srisuk"),
            ("วงศ์สวัสดิ์", "wongsawat"),
            ("แก้วมณี", "kaewmanee"),
            ("ทองดี", "thongdee"),
            ("สุขใจ", "sukjai"),
            ("บุญมา", "boonma"),
        ],
    ),
    "zh": (
        [
            ("伟", "wei"),
            ("芳", "fang"),
            ("娜", "na"),
            ("敏", "min"),
            ("静", "jing"),
            ("强", "qiang"),
            ("磊", "lei"),
            ("洋", "yang"),
            ("丽", "li"),
            ("军", "jun"),
        ],
        [
            ("王", "wang"),
            ("李", "li"),
            ("张", "zhang"),
            ("刘", "liu"),
            ("陈", "chen"),
            ("杨", "yang"),
            ("黄", "huang"),
            ("赵", "zhao"),
        ],
    ),
}
LOCALE_WEIGHTS = {"en": 45, "ja": 20, "th": 15, "zh": 20}
DOMAINS = {
    "en": ("example.com", "example.org", "example.net"),
    "ja": ("example.jp",),
    "th": ("example.co.th",),
    "zh": ("example.cn",),
}
CURRENCY = {"en": "USD", "ja": "JPY", "th": "THB", "zh": "CNY"}
TIERS = (("bronze", 50), ("silver", 30), ("gold", 15), ("platinum", 5))
SEGMENTS = (("retail", 60), ("smb", 25), ("enterprise", 10), ("public", 5))
STAGES = (
    ("active", 50),
    ("loyal", 15),
    ("new", 15),
    ("at_risk", 8),
    ("prospect", 5),
    ("inactive", 5),
    ("churned", 2),
)
ORDER_STATUSES = (
    ("delivered", 55),
    ("shipped", 12),
    ("processing", 8),
    ("paid", 6),
    ("placed", 4),
    ("cancelled", 7),
    ("returned", 5),
    ("refunded", 3),
)
PRODUCTS = (
    ("KB-100", "Wireless keyboard", 49),
    ("MS-20", "Mouse", 19),
    ("HD-7", "Headset with microphone", 89),
    ("MN-27", "27-inch monitor", 279),
    ("CB-1", "USB-C cable", 9),
    ("LP-14", "14-inch laptop", 999),
    ("DK-3", "Docking station", 159),
)
CARRIERS = {
    "en": ("UPS", "FedEx", "Royal Mail"),
    "ja": ("Yamato", "Sagawa"),
    "th": ("Thailand Post", "Kerry Express"),
    "zh": ("SF Express", "China Post"),
}
CHANNELS = (("voice", 50), ("email", 20), ("chat", 20), ("web", 5), ("callback", 5))
QUEUES = ("sales", "support", "billing", "delivery", "vip")
# disposition -> note the agent typed
DISPOSITIONS = {
    "order_status": "Customer asked where the order is; gave tracking number.",
    "delivery_issue": "Parcel delayed at the depot; opened a trace with the carrier.",
    "billing_question": "Explained the invoice lines; customer satisfied.",
    "refund_request": "Refund approved for returned item; 3-5 working days.",
    "product_question": "Explained warranty and compatibility with the docking station.",
    "technical_support": "Reset the headset pairing; works now.",
    "complaint": "Customer unhappy with service; complaint logged.",
    "sales_inquiry": "Quoted volume pricing for 20 monitors; sent offer by e-mail.",
    "address_change": "Updated delivery address for the next order.",
    "callback_scheduled": "Customer busy; callback agreed for tomorrow morning.",
}
COMPLAINT_TEXTS = {
    ("product", "quality"): "The monitor has a line of dead pixels after two weeks.",
    ("product", "delivery"): "The parcel arrived four days late and the box was crushed.",
    ("product", "function"): "The keyboard does not connect after the latest update.",
    ("product", "transaction"): "I was charged twice for the same order.",
    ("product", "safety"): "The charger gets very hot and smells of burning.",
    ("service", "attitude"): "The agent was impatient and hung up on me.",
    ("service", "capability"): "Nobody could tell me why my refund is late.",
    ("service", "quality"): "I had to explain the problem three times to three people.",
    ("service", "etiquette"): "I was put on hold for 25 minutes without explanation.",
}
SEVERITY_HOURS = {"critical": 4, "high": 24, "normal": 72, "low": 168}
