"""网站地址: the site's address goes into every page head, every QR code and robots.txt,
so it is parsed, not just prefix-checked; anything but a plain web address is refused."""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from urllib.parse import urlsplit

_HOST_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_PATH = re.compile(r"^[A-Za-z0-9\-._~/%]*$")  # unreserved characters, slashes and %XX
_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")


class BadAddress(ValueError):
    """reason: what staff should fix, in Chinese."""


def normalize_site_url(text: str) -> str:
    """The canonical address (scheme://host[:port]/path/), or BadAddress."""
    text = unicodedata.normalize("NFKC", text.strip())  # full-width ： ／ typed with a Chinese IME
    if re.search(r"[\s\"'<>`\\{}|^\x00-\x1f\x7f]", text) or any(unicodedata.category(c) == "Cf" for c in text):
        raise BadAddress("网址里不能有空格、引号、尖括号、反斜杠或看不见的控制字符，请只填写网址本身")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise BadAddress("网址的写法不对，请写成 https://jf.example.cn/ 这样的格式") from None
    if parts.scheme.lower() not in ("http", "https") or not text.lower().startswith(parts.scheme.lower() + "://"):
        raise BadAddress("网址应以 http:// 或 https:// 开头")
    if "@" in parts.netloc:
        raise BadAddress("网址里不能有用户名或密码（@）")
    if parts.query or parts.fragment or "?" in text or "#" in text:
        raise BadAddress("网址不能带 ? 或 # 后面的部分，请只写到网站的文件夹，如 https://jf.example.cn/jifen/")
    host = _host(parts.hostname or "")
    if not _PATH.match(parts.path) or _PERCENT.search(parts.path) or "/../" in parts.path + "/" \
            or "/./" in parts.path + "/":
        raise BadAddress("网址的路径部分只能有字母、数字和 - . _ ~ /，请检查")
    path = parts.path if parts.path.endswith("/") else parts.path + "/"
    shown_port = f":{port}" if port is not None else ""
    return f"{parts.scheme.lower()}://{host}{shown_port}{path}"


def _host(host: str) -> str:
    if not host:
        raise BadAddress("网址里缺少网站的域名或 IP 地址，如 https://jf.example.cn/")
    try:
        address = ipaddress.ip_address(host.strip("[]"))
        return f"[{address}]" if address.version == 6 else str(address)
    except ValueError:
        pass
    try:
        ascii_host = host.encode("idna").decode("ascii").lower()  # 积分.中国 → xn--…
    except UnicodeError:
        raise BadAddress(f"“{host}”不是有效的域名") from None
    labels = ascii_host.rstrip(".").split(".")
    if not all(_HOST_LABEL.match(label) for label in labels) or labels[-1].isdigit():  # 999.1.1.1
        raise BadAddress(f"“{host}”不是有效的域名或 IP 地址")
    return ascii_host.rstrip(".")
