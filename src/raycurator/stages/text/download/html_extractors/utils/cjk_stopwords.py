"""Short stop lists for Chinese, Japanese and Thai, which jusText does not ship.

Common function words (particles, pronouns, auxiliaries, conjunctions). The extractors keep
every paragraph of these languages (no stop-word density test), so the lists matter only to
user algorithms that use them.
"""

zh_stopwords = frozenset(
    "的 了 在 是 我 有 和 就 不 人 都 一 一个 上 也 很 到 说 要 去 你 会 着 没有 看 好 自己 这 那 他 她 它 们 我们 "
    "你们 他们 之 与 及 或 而 但 但是 因为 所以 如果 虽然 可以 这个 那个 什么 为 为了 从 对 把 被 让 给 向 于 以 "
    "其 中 等 还 又 更 最 已 已经 并 并且 而且 或者 还是 这些 那些 这样 那样 怎么 怎样 哪 吗 呢 吧 啊".split()
)

ja_stopwords = frozenset(
    "の に は を た が で て と し れ さ ある いる も する から な こと として い や れる など なっ ない この "
    "ため その あっ よう また もの という あり まで られ なる へ か だ これ によって により おり より による ず "
    "なり られる において ば なかっ なく しかし について せ だっ その後 できる それ う ので なお のみ でき き つ "
    "における および いう さらに でも ら たり その他 に関する たち ます ん なら です".split()
)

th_stopwords = frozenset(
    "และ ที่ ของ ใน เป็น การ มี ได้ ไม่ ให้ ว่า จะ กับ แต่ หรือ จาก โดย ก็ นี้ นั้น คือ ซึ่ง อยู่ ไป มา "
    "แล้ว เมื่อ ถ้า เพราะ ทั้ง ยัง อีก ความ ต้อง เขา เรา ผม คุณ ท่าน กัน ด้วย ถึง ทำ เพื่อ อย่าง เช่น".split()
)
