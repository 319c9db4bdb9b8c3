#!/usr/bin/env bash
# Regenerates the county import test data in tests/data/county/ (and tests/data/osm-clipped.osm.pbf).
#
# The generated files are committed, so CI and `cargo test` need neither GDAL nor osmium; run this only to
# change the data. It writes a small fictional county (admin code 320582, near 120.6°E 31.85°N, inside
# EPSG:4549's zone, CM 120°E):
#   towns.geojson            3 towns (MultiPolygons tiling ~20 km × 15 km), admin_code + name (WGS 84)
#   roads.geojson            9 road features: X202 in two sections joined end to end (K0+000–K5+786,
#                            K5+786–K14+187), X203, Y101, Y102, C001, C002, and 2 village roads with a name only;
#                            every coded feature's end stake is its start stake plus its geodesic length
#   roads-gbk/               the roads as a Shapefile with GBK text and a .cpg, Chinese road-database fields:
#                            LXBM (route code), LXMC (name), QDZH / ZDZH (start / end stake, metres)
#   roads-gbk.zip            the same folder zipped
#   towns-4549/              towns as a Shapefile in EPSG:4549, .prj as GDAL writes it, UTF-8 .cpg
#   towns-4549-esri/         the same with an ArcGIS-style .prj (no AUTHORITY) written by this script
#   towns-4549-ogc/          the same with an OGC WKT1 .prj carrying AUTHORITY["EPSG","4549"] (QGIS style)
#   towns-4490/              towns in CGCS2000 geographic, no .cpg (language driver 0x57 → UTF-8 default)
#   roads.gpkg               the roads as a GeoPackage (table "roads")
#   roads.osm.pbf            the roads as OSM ways (highway=secondary/tertiary/unclassified/residential,
#                            ref = route code, name) plus a footway the reader must skip
# and tests/data/osm-clipped.osm.pbf: one way whose last node is missing (a clipped extract).
#
# Usage: scripts/make-testdata.sh   (installs gdal-bin and osmium-tool with apt-get when missing)
set -euo pipefail

cd "$(dirname "$0")/.."
out=tests/data/county
mkdir -p "$out"

if ! command -v ogr2ogr >/dev/null || ! command -v osmium >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gdal-bin osmium-tool zip
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

python3 - "$out" "$work" <<'PY'
import json, math, sys
out, work = sys.argv[1], sys.argv[2]

# Three towns side by side: west 120.50–120.57, middle 120.57–120.64, east 120.64–120.71; 31.78–31.915.
# Shared edges use the same vertices so the towns tile without gaps or overlaps.
S, N = 31.78, 31.915
cuts = [120.50, 120.57, 120.64, 120.71]
mid = [(31.82, 0.004), (31.87, -0.003)]  # a kink in each internal boundary, shared by both neighbours

def edge(x, interior):
    """South→north vertices of the vertical edge at x (kinked if interior)."""
    pts = [(x, S)]
    if interior:
        pts += [(round(x + dx, 6), y) for y, dx in mid]
    pts.append((x, N))
    return pts

towns = [("320582100", "杨舍镇"), ("320582101", "塘桥镇"), ("320582102", "凤凰镇")]
features = []
for i, (code, name) in enumerate(towns):
    west = edge(cuts[i], i > 0)
    east = edge(cuts[i + 1], i < 2)
    # Counter-clockwise exterior (RFC 7946 right-hand rule): along the south, up the east, back down the west.
    ring = [west[0]] + east + list(reversed(west[1:])) + [west[0]]
    ring = [[x, y] for x, y in ring]
    features.append({"type": "Feature", "properties": {"admin_code": code, "name": name},
                     "geometry": {"type": "MultiPolygon", "coordinates": [[ring]]}})
json.dump({"type": "FeatureCollection", "features": features}, open(f"{out}/towns.geojson", "w"),
          ensure_ascii=False, indent=1)

def geodesic_m(p, q):
    """Vincenty's inverse formula on the WGS 84 ellipsoid: what PostGIS's st_length(geography) measures."""
    a, f = 6378137.0, 1 / 298.257223563
    b = a * (1 - f)
    (lon1, lat1), (lon2, lat2) = p, q
    L = math.radians(lon2 - lon1)
    U1, U2 = math.atan((1 - f) * math.tan(math.radians(lat1))), math.atan((1 - f) * math.tan(math.radians(lat2)))
    sinU1, cosU1, sinU2, cosU2 = math.sin(U1), math.cos(U1), math.sin(U2), math.cos(U2)
    lam = L
    for _ in range(200):
        sinl, cosl = math.sin(lam), math.cos(lam)
        sin_s = math.hypot(cosU2 * sinl, cosU1 * sinU2 - sinU1 * cosU2 * cosl)
        if sin_s == 0:
            return 0.0
        cos_s = sinU1 * sinU2 + cosU1 * cosU2 * cosl
        s = math.atan2(sin_s, cos_s)
        sin_al = cosU1 * cosU2 * sinl / sin_s
        cos2_al = 1 - sin_al ** 2
        cos2sm = cos_s - 2 * sinU1 * sinU2 / cos2_al if cos2_al else 0.0
        C = f / 16 * cos2_al * (4 + f * (4 - 3 * cos2_al))
        prev, lam = lam, L + (1 - C) * f * sin_al * (s + C * sin_s * (cos2sm + C * cos_s * (-1 + 2 * cos2sm ** 2)))
        if abs(lam - prev) < 1e-12:
            break
    u2 = cos2_al * (a * a - b * b) / (b * b)
    A = 1 + u2 / 16384 * (4096 + u2 * (-768 + u2 * (320 - 175 * u2)))
    B = u2 / 1024 * (256 + u2 * (-128 + u2 * (74 - 47 * u2)))
    ds = B * sin_s * (cos2sm + B / 4 * (cos_s * (-1 + 2 * cos2sm ** 2)
                                       - B / 6 * cos2sm * (-3 + 4 * sin_s ** 2) * (-3 + 4 * cos2sm ** 2)))
    return b * A * (s - ds)

def stake_text(m):
    """K<km>+<metres>, e.g. K5+786 or K3+258.92 (a decimal part only when the stake has one)."""
    km, rest = divmod(round(m * 100), 100_000)
    whole, cm = divmod(rest, 100)
    return f"K{km}+{whole:03d}" + (f".{cm:02d}" if cm else "")

# Roads: (route_code, name, decimals, highway, coordinates). As in a real road database, each coded feature's
# end stake is its start stake plus its geodesic length (rounded to the metre, or to the centimetre where
# decimals = 2: C001 keeps a decimal end stake); X202's second section starts where the first ends.
drawn = [
    ("X202", "港城大道", 0, "secondary", [(120.515, 31.800), (120.540, 31.815), (120.565, 31.830)]),
    ("X202", "港城大道", 0, "secondary",
     [(120.565, 31.830), (120.600, 31.845), (120.625, 31.860), (120.640, 31.870)]),
    ("X203", "南环路", 0, "secondary", [(120.510, 31.790), (120.580, 31.795), (120.650, 31.800), (120.700, 31.805)]),
    ("Y101", "凤塘线", 0, "tertiary", [(120.600, 31.790), (120.610, 31.830), (120.615, 31.850)]),
    ("Y102", "晨阳路", 0, "tertiary", [(120.660, 31.820), (120.670, 31.850), (120.690, 31.880)]),
    ("C001", "永联村道", 2, "unclassified", [(120.520, 31.860), (120.535, 31.870), (120.545, 31.880)]),
    ("C002", "双塘村道", 0, "unclassified", [(120.650, 31.890), (120.660, 31.895), (120.670, 31.905)]),
    (None, "东港路", 0, "residential", [(120.580, 31.900), (120.590, 31.905), (120.600, 31.908)]),
    (None, "河北组道路", 0, "residential", [(120.550, 31.850), (120.556, 31.846)]),
]
# (route_code, name, start_stake, end_stake, start m, end m, highway, coordinates)
roads, ends = [], {}
for code, name, decimals, hw, coords in drawn:
    if code is None:
        roads.append((code, name, None, None, None, None, hw, coords))
        continue
    qm = ends.get(code, 0)
    length = sum(geodesic_m(p, q) for p, q in zip(coords, coords[1:]))
    zm = round(qm + length, decimals) if decimals else round(qm + length)
    ends[code] = zm
    roads.append((code, name, stake_text(qm), stake_text(zm), qm, zm, hw, coords))
    print(f"{code}: {stake_text(qm)}–{stake_text(zm)} ({length:.2f} m drawn)", file=sys.stderr)
gj, cn = [], []
for code, name, qs, zs, qm, zm, hw, coords in roads:
    geom = {"type": "LineString", "coordinates": [[x, y] for x, y in coords]}
    props = {"route_code": code, "name": name, "start_stake": qs, "end_stake": zs}
    if code is None:
        props = {"name": name}
    gj.append({"type": "Feature", "properties": props, "geometry": geom})
    cn.append({"type": "Feature", "geometry": geom,
               "properties": {"LXBM": code, "LXMC": name, "QDZH": qm, "ZDZH": zm}})
json.dump({"type": "FeatureCollection", "features": gj}, open(f"{out}/roads.geojson", "w"),
          ensure_ascii=False, indent=1)
json.dump({"type": "FeatureCollection", "features": cn}, open(f"{work}/roads-cn.geojson", "w"),
          ensure_ascii=False)

# OSM XML: one node per distinct coordinate (shared where sections join), a way per road, one footway.
nodes, ways = {}, []
def node(c):
    return nodes.setdefault(c, len(nodes) + 1)
for i, (code, name, qs, zs, qm, zm, hw, coords) in enumerate(roads):
    tags = {"highway": hw, "name": name}
    if code:
        tags["ref"] = code
    ways.append((1000 + i, [node(c) for c in coords], tags))
ways.append((2000, [node((120.575, 31.835)), node((120.578, 31.838))],
             {"highway": "footway", "name": "滨河步道"}))
def osm_xml(path, nodes, ways):
    with open(path, "w") as f:
        f.write('<?xml version="1.0" encoding="UTF-8"?>\n<osm version="0.6" generator="make-testdata.sh">\n')
        for (lon, lat), nid in sorted(nodes.items(), key=lambda kv: kv[1]):
            f.write(f' <node id="{nid}" version="1" lat="{lat}" lon="{lon}"/>\n')
        for wid, refs, tags in ways:
            f.write(f' <way id="{wid}" version="1">\n')
            for r in refs:
                f.write(f'  <nd ref="{r}"/>\n')
            for k, v in tags.items():
                f.write(f'  <tag k="{k}" v="{v}"/>\n')
            f.write(' </way>\n')
        f.write('</osm>\n')
osm_xml(f"{work}/roads.osm", nodes, ways)
# A clipped extract: way 3000's third node (id 99) is not in the file.
osm_xml(f"{work}/clipped.osm", {(120.60, 31.85): 1, (120.61, 31.86): 2},
        [(3000, [1, 2, 99], {"highway": "tertiary", "ref": "Y103", "name": "出界路"})])
PY

rm -rf "$out/roads-gbk" "$out/roads-gbk.zip" "$out/towns-4549" "$out/towns-4549-esri" "$out/towns-4549-ogc" "$out/towns-4490" \
  "$out/roads.gpkg" "$out/roads.osm.pbf"
mkdir -p "$out/roads-gbk" "$out/towns-4549" "$out/towns-4490"

# Shapefile, GBK text, .cpg written by GDAL from the ENCODING option; Real stakes (C001 ends at 3258.92 m).
ogr2ogr -f "ESRI Shapefile" "$out/roads-gbk/roads.shp" "$work/roads-cn.geojson" -lco ENCODING=GBK -nln roads
(cd "$out" && rm -f roads-gbk.zip && zip -q -X -r roads-gbk.zip roads-gbk)

ogr2ogr -f "ESRI Shapefile" "$out/towns-4549/towns.shp" "$out/towns.geojson" -t_srs EPSG:4549 -lco ENCODING=UTF-8 -nln towns
mkdir -p "$out/towns-4549-esri"
cp "$out/towns-4549/towns."{shp,shx,dbf,cpg} "$out/towns-4549-esri/"
# What ArcGIS writes for CGCS2000 3-degree GK CM 120E: no AUTHORITY anywhere.
printf '%s' 'PROJCS["CGCS2000_3_Degree_GK_CM_120E",GEOGCS["GCS_China_Geodetic_Coordinate_System_2000",DATUM["D_China_2000",SPHEROID["CGCS2000",6378137.0,298.257222101]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]],PROJECTION["Gauss_Kruger"],PARAMETER["False_Easting",500000.0],PARAMETER["False_Northing",0.0],PARAMETER["Central_Meridian",120.0],PARAMETER["Scale_Factor",1.0],PARAMETER["Latitude_Of_Origin",0.0],UNIT["Meter",1.0]]' \
  > "$out/towns-4549-esri/towns.prj"

# GDAL already writes ESRI-style WKT (no AUTHORITY) for shapefiles; QGIS and others write OGC WKT1 with
# AUTHORITY["EPSG","4549"]: keep one of those too.
mkdir -p "$out/towns-4549-ogc"
cp "$out/towns-4549/towns."{shp,shx,dbf,cpg} "$out/towns-4549-ogc/"
gdalsrsinfo -o wkt1 EPSG:4549 | tr -d '\n' | sed 's/  */ /g' > "$out/towns-4549-ogc/towns.prj"

# UTF-8 text but no .cpg: the reader falls back to strict UTF-8 (the language driver byte says nothing).
ogr2ogr -f "ESRI Shapefile" "$out/towns-4490/towns.shp" "$out/towns.geojson" -t_srs EPSG:4490 -lco ENCODING=UTF-8 -nln towns
rm -f "$out/towns-4490/towns.cpg"

# No spatial index and a vacuum keep the file small (the reader does not use the index).
ogr2ogr -f GPKG "$out/roads.gpkg" "$out/roads.geojson" -nln roads -lco SPATIAL_INDEX=NO
python3 -c 'import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute("pragma page_size=1024"); c.execute("vacuum"); c.close()' "$out/roads.gpkg"

osmium cat --overwrite -o "$out/roads.osm.pbf" "$work/roads.osm"
osmium cat --overwrite -o tests/data/osm-clipped.osm.pbf "$work/clipped.osm"

du -sh tests/data
