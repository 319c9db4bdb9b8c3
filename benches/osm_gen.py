#!/usr/bin/env python3
"""Writes a deterministic synthetic OpenStreetMap extract of a province's rural roads, for benches/import.sh.

The area is 119–121°E, 31–33°N (about 190 km × 220 km, southern Jiangsu). Roads are random walks of 10–60
nodes, 30–90 m apart with a little jitter in direction, so lines look drawn rather than straight. Half of the
ways start at a node of an earlier way (a junction, as in a real network), so nodes are shared. About 10 % of
the roads carry a `ref` (G/S/X/Y/C route codes), each code repeated over about 20 ways that continue one
another; 60 % have a Chinese `name`. The `highway` mix is tertiary / unclassified / residential (kept by the
importer's default list), track and footway (skipped by it). As in a real extract, most ways are not roads:
`buildings` closed 5-node ways per road way, whose nodes the reader must skip.

It writes OPL (nodes then ways, ids ascending, as osmium sorts them) and converts it to PBF with osmium
(osmium-tool): `osmium cat -F opl`. Same arguments, same bytes.

Usage: benches/osm_gen.py OUT.osm.pbf [--ways N] [--buildings-per-way B] [--seed S]
"""

import argparse
import os
import random
import subprocess
import sys
import tempfile
import math

WEST, EAST, SOUTH, NORTH = 119.0, 121.0, 31.0, 33.0
# Highway values and their shares among road ways.
HIGHWAYS = [("tertiary", 0.12), ("unclassified", 0.30), ("residential", 0.33), ("track", 0.15), ("footway", 0.10)]
KEPT = {"tertiary", "unclassified", "residential"}
PLACES = "杨舍塘桥凤凰乐余南丰锦丰金港大新常阴沙兆丰后塍德积妙桥鹿苑港口西张晨阳永联双塘东港河北"
SUFFIXES = ["路", "线", "大道", "村道", "组道路", "公路", "街"]


def esc(text):
    """OPL escaping: everything but plain ASCII letters, digits and a few safe marks as %<hex code point>%."""
    out = []
    for ch in text:
        if ch.isascii() and (ch.isalnum() or ch in "-_.:;/()+"):
            out.append(ch)
        else:
            out.append(f"%{ord(ch):x}%")
    return "".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--ways", type=int, default=2_000_000, help="road ways (all highway values)")
    ap.add_argument("--buildings-per-way", type=float, default=1.0, help="building ways per road way")
    ap.add_argument("--seed", type=int, default=320582)
    args = ap.parse_args()
    rnd = random.Random(args.seed)

    # Route codes: a few national and provincial roads, many county (X), township (Y) and village (C) roads.
    coded_ways = args.ways // 10
    n_codes = max(50, coded_ways // 20)
    codes = [f"G{n}" for n in (104, 204, 312, 328, 346)]
    codes += [f"S{200 + i}" for i in range(min(100, n_codes // 20))]
    codes += [f"X{i:03d}" for i in range(1, min(999, n_codes // 4))]
    i = 1
    while len(codes) < n_codes:
        codes += [f"Y{i:04d}", f"C{i:04d}"]
        i += 1
    route_head = {}  # code -> (node id, lon, lat, heading) where the route's next way continues

    tmp = tempfile.mkdtemp(dir=os.path.dirname(os.path.abspath(args.out)))
    nodes_path, ways_path = os.path.join(tmp, "nodes.opl"), os.path.join(tmp, "ways.opl")
    nodes_f = open(nodes_path, "w", buffering=1 << 20)
    ways_f = open(ways_path, "w", buffering=1 << 20)
    next_node = 1
    next_way = 1
    junctions = []  # recent nodes a new way may start from: (id, lon, lat)
    # One degree of longitude here is about 95 km, of latitude 111 km.
    m_lon, m_lat = 1 / 95_000, 1 / 111_000
    counts = {"nodes": 0, "ways": 0, "road_ways": 0, "kept_ways": 0, "coded_ways": 0, "buildings": 0}

    def new_node(lon, lat):
        nonlocal next_node
        nid = next_node
        next_node += 1
        nodes_f.write(f"n{nid} v1 dV c1 t2024-01-01T00:00:00Z i1 ugen T x{lon:.7f} y{lat:.7f}\n")
        return nid

    cum = []
    acc = 0.0
    for hw, share in HIGHWAYS:
        acc += share
        cum.append((acc, hw))

    for w in range(args.ways):
        r = rnd.random()
        hw = next(h for c, h in cum if r <= c)
        code = None
        if hw in KEPT and rnd.random() < 0.1 * 1 / 0.75:
            code = codes[rnd.randrange(len(codes))]
        if code and code in route_head:
            start = route_head[code]
            nid, lon, lat, heading = start
            refs = [nid]
        elif junctions and rnd.random() < 0.5:
            nid, lon, lat = junctions[rnd.randrange(len(junctions))]
            heading = rnd.uniform(0, 2 * math.pi)
            refs = [nid]
        else:
            lon, lat = rnd.uniform(WEST, EAST), rnd.uniform(SOUTH, NORTH)
            heading = rnd.uniform(0, 2 * math.pi)
            refs = [new_node(lon, lat)]
        n = rnd.randint(10, 60)
        for _ in range(n - 1):
            heading += rnd.gauss(0, 0.15)
            step = rnd.uniform(30, 90)
            lon += math.cos(heading) * step * m_lon
            lat += math.sin(heading) * step * m_lat
            # Turn back at the edge of the area.
            if not (WEST < lon < EAST):
                heading = math.pi - heading
                lon = min(max(lon, WEST), EAST)
            if not (SOUTH < lat < NORTH):
                heading = -heading
                lat = min(max(lat, SOUTH), NORTH)
            refs.append(new_node(lon, lat))
        end = (refs[-1], lon, lat)
        if code:
            route_head[code] = (refs[-1], lon, lat, heading)
            counts["coded_ways"] += 1
        if len(junctions) < 10_000:
            junctions.append(end)
        else:
            junctions[rnd.randrange(len(junctions))] = end
        tags = [f"highway={hw}"]
        if code:
            tags.append(f"ref={code}")
        if rnd.random() < 0.6:
            name = "".join(rnd.choice(PLACES) for _ in range(2)) + rnd.choice(SUFFIXES)
            tags.append(f"name={esc(name)}")
        ways_f.write(f"w{next_way} v1 dV c1 t2024-01-01T00:00:00Z i1 ugen T{','.join(tags)} N"
                     + ",".join(f"n{r}" for r in refs) + "\n")
        next_way += 1
        counts["road_ways"] += 1
        counts["kept_ways"] += hw in KEPT

        # Buildings near the road: closed squares of 4 corners + the first again.
        b = int(args.buildings_per_way) + (rnd.random() < args.buildings_per_way % 1)
        for _ in range(b):
            bx, by = lon + rnd.uniform(-300, 300) * m_lon, lat + rnd.uniform(-300, 300) * m_lat
            s = rnd.uniform(8, 20)
            corners = [new_node(bx + dx * s * m_lon, by + dy * s * m_lat) for dx, dy in ((0, 0), (1, 0), (1, 1), (0, 1))]
            corners.append(corners[0])
            ways_f.write(f"w{next_way} v1 dV c1 t2024-01-01T00:00:00Z i1 ugen Tbuilding=yes N"
                         + ",".join(f"n{r}" for r in corners) + "\n")
            next_way += 1
            counts["buildings"] += 1

    nodes_f.close()
    ways_f.close()
    counts["nodes"] = next_node - 1
    counts["ways"] = next_way - 1
    with open(nodes_path, "ab") as f, open(ways_path, "rb") as g:
        while chunk := g.read(1 << 24):
            f.write(chunk)
    os.remove(ways_path)
    subprocess.run(["osmium", "cat", "--overwrite", "-F", "opl", "-o", args.out, nodes_path], check=True)
    os.remove(nodes_path)
    os.rmdir(tmp)
    counts["pbf_bytes"] = os.path.getsize(args.out)
    print(" ".join(f"{k}={v}" for k, v in counts.items()))


if __name__ == "__main__":
    sys.exit(main())
