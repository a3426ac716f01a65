"""Write address_cases.csv: labelled Laoshan address strings for the address matcher's tests.

Each case is built from a known demo feature and a known transformation, so its expected match is
known by construction, not taken from the matcher. Run again only when the demo changes:

    python tests/data/make_address_cases.py
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from siteselect.demo import generate

HERE = Path(__file__).parent
CN = "零一二三四五六七八九"
TYPOS = {"东": "冬", "岭": "领", "海": "每", "山": "三", "港": "巷", "尔": "儿", "州": "洲", "阳": "杨",
         "川": "穿", "口": "扣", "松": "送", "秦": "琴", "云": "芸", "苗": "描", "同": "桐", "安": "按",
         "深": "申", "圳": "川", "株": "朱", "辽": "了", "银": "根", "劲": "经", "沙": "砂", "子": "仔",
         "九": "久", "水": "氺", "北": "背", "宅": "窄", "王": "汪", "哥": "歌", "庄": "装", "仰": "养",
         "晓": "小", "望": "旺", "滨": "宾", "大": "太", "道": "到"}  # fmt: skip


def chinese(n: int) -> str:
    """178 → 一百七十八 (the way numbers are written out)."""
    if n < 10:
        return CN[n]
    if n < 20:
        return "十" + (CN[n % 10] if n % 10 else "")
    if n < 100:
        return CN[n // 10] + "十" + (CN[n % 10] if n % 10 else "")
    rest = n % 100
    tail = (
        ""
        if rest == 0
        else ("零" + CN[rest] if rest < 10 else chinese(rest) if rest >= 20 else "一" + chinese(rest))
    )
    return CN[n // 100] + "百" + tail


def fullwidth(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if c.isdigit() else c for c in text)


def typo(road: str, roads: set[str]) -> str | None:
    for i, char in enumerate(road[:-1]):
        if char in TYPOS:
            wrong = road[:i] + TYPOS[char] + road[i + 1 :]
            if wrong not in roads:
                return wrong
    return None


def house_number_cases(rng: np.random.Generator, numbers, roads: set[str]) -> list[tuple[str, str, str, str]]:
    plain = numbers[~numbers["number"].str.contains("-")]
    picks = plain.iloc[rng.choice(len(plain), 110, replace=False)]
    out = []
    for n, row in enumerate(picks.itertuples()):
        road, num, full = row.road, row.number, row.address
        kind = n % 11
        if kind == 0:
            query, how = full, "full"
        elif kind == 1:
            query, how = f"{road}{num}号", "no prefix"
        elif kind == 2:
            query, how = f"青岛市崂山区{road}{fullwidth(num)}号", "full-width digits"
        elif kind == 3:
            query, how = f"崂山区{road}{chinese(int(num))}号", "chinese numerals"
        elif kind == 4:
            query, how = (
                f"{road}{num}号{rng.integers(1, 6)}单元{rng.integers(1, 20)}0{rng.integers(1, 4)}室",
                "unit and room",
            )
        elif kind == 5:
            query, how = f"{road}{num}号{chinese(int(rng.integers(1, 4)))}单元", "chinese unit"
        elif kind == 6:
            query, how = (
                f"山东省青岛市崂山区 {road} {num} 号（{'东' if n % 2 else '北'}门）",
                "spaces and brackets",
            )
        elif kind == 7:
            wrong = typo(road, roads)
            if wrong is None:
                continue
            query, how = f"崂山区{wrong}{num}号", "road typo"
        elif kind == 8:
            query, how = f"劳山区{road}{num}号", "district typo"
        elif kind == 9:
            query, how = f"{fullwidth(f'{road}{num}号')}", "all full-width"
        else:
            query, how = f"山东青岛{road}{num}号{rng.integers(2, 30)}层", "floor"
        out.append((query, "house_number", row.id, how))
    sub = numbers[numbers["number"].str.contains("-")]
    for row in sub.iloc[rng.choice(len(sub), 12, replace=False)].itertuples():
        base, k = row.number.split("-")
        query = f"{row.road}{base}号之{chinese(int(k))}" if int(k) < 3 else f"{row.road}{base}号{k}号楼"
        out.append((query, "house_number", row.id, "sub-number"))
    return out


def building_cases(buildings) -> list[tuple[str, str, str, str]]:
    parks = buildings[buildings["name"].str.contains("园")]
    out = []
    for n, row in enumerate(parks.itertuples()):
        query = row.name if n % 2 else f"崂山区{row.name.removeprefix('青岛')}"
        out.append((query, "building", row.id, "building name"))
    return out


def road_cases(rng: np.random.Generator, numbers) -> list[tuple[str, str, str, str]]:
    roads = sorted(set(numbers["road"]))
    out = []
    for n, road in enumerate(roads):
        out.append((f"崂山区{road}{int(rng.integers(5000, 9000))}号", "road", road, "no such number"))
        if n % 2 == 0:
            out.append((f"{road}{'北侧' if n % 4 else '附近'}", "road", road, "road only"))
    return out


def street_cases(districts) -> list[tuple[str, str, str, str]]:
    out = []
    streets = districts[districts["level"] == "street"]["name"].tolist()
    communities = districts[districts["level"] == "community"]["name"].tolist()
    for name in streets:
        out += [(f"崂山区{name}", "street", name, "street"), (f"{name}办事处附近", "street", name, "street")]
        out.append((f"青岛市崂山区{name[:-2]}", "street", name, "short street"))
    for name in communities[::2]:
        out.append((f"{name}内", "street", name, "community"))
    return out


NONE_CASES = [
    "长江中路88号", "黄河东路1号", "不存在路5号", "市南区香港中路10号", "李沧区书院路3号",
    "城阳区正阳路100号", "即墨区鹤山路2号", "黄岛区长江西路66号", "abc", "12345",
    "某某小区", "北京市朝阳区建国路1号", "上海市浦东新区世纪大道100号", "胶州市扬州路5号",
    "崂山", "青岛", "山东省", "随便写的地址", "无名路", "新华书店", "火车站", "湖光路8号",
    "平度市红旗路9号", "莱西市烟台路10号", "广州路12号",
]  # fmt: skip


def main() -> None:
    rng = np.random.default_rng(20240401)
    layers = generate()
    numbers, buildings, districts = layers["house_numbers"], layers["buildings"], layers["districts"]
    roads = set(numbers["road"])
    cases = house_number_cases(rng, numbers, roads)
    cases += building_cases(buildings)
    cases += road_cases(rng, numbers)
    cases += street_cases(districts)
    cases += [(q, "none", "", "not in the district or not an address") for q in NONE_CASES]
    with (HERE / "address_cases.csv").open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["query", "level", "expect", "how"])
        writer.writerows(cases)
    print(f"{len(cases)} cases written")


if __name__ == "__main__":
    main()
