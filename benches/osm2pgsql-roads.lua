-- osm2pgsql flex style for benches/import.sh: the baseline does the same job as `roadledger import roads`
-- on an OSM file, and no more: highway ways of the importer's default list, with ref, name and name:zh, as
-- LineStrings in EPSG:4326. No points, no polygons, no clustering (roadledger does not reorder rows either).

local kept = {
    motorway = true, motorway_link = true, trunk = true, trunk_link = true, primary = true, primary_link = true,
    secondary = true, secondary_link = true, tertiary = true, tertiary_link = true, unclassified = true,
    residential = true, living_street = true, road = true,
}

local roads = osm2pgsql.define_way_table('osm_road', {
    { column = 'highway', type = 'text', not_null = true },
    { column = 'ref', type = 'text' },
    { column = 'name', type = 'text' },
    { column = 'name_zh', type = 'text' },
    { column = 'geom', type = 'linestring', projection = 4326, not_null = true },
}, { cluster = 'no' })

function osm2pgsql.process_way(object)
    local highway = object.tags.highway
    if not highway or not kept[highway] then
        return
    end
    roads:insert({
        highway = highway,
        ref = object.tags.ref,
        name = object.tags.name,
        name_zh = object.tags['name:zh'],
        geom = object:as_linestring(),
    })
end
