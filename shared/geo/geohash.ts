/**
 * Geohash encoding and the cells covering a circle, written here because no small geohash library is in the
 * project (ngeohash would do; its neighbour walk is not needed: the cover enumerates the grid directly).
 *
 * A geohash of precision p interleaves 5p bits, longitude first: ceil(5p/2) longitude bits and floor(5p/2) latitude
 * bits, so its cells form a regular grid of 2^lonBits columns by 2^latBits rows. A point on a cell edge belongs to
 * the cell above / to the right (the bit is 1 when the value is >= the midpoint), and the cover uses the same rule.
 */

const BASE32 = '0123456789bcdefghjkmnpqrstuvwxyz';

/** Mean Earth radius (IUGG), km. */
export const EARTH_RADIUS_KM = 6371.0088;

export interface LatLon {
  lat: number;
  lon: number;
}

export function encodeGeohash({ lat, lon }: LatLon, precision: number): string {
  let latMin = -90;
  let latMax = 90;
  let lonMin = -180;
  let lonMax = 180;
  let hash = '';
  let bits = 0;
  let value = 0;
  let evenBit = true;
  while (hash.length < precision) {
    if (evenBit) {
      const mid = (lonMin + lonMax) / 2;
      if (lon >= mid) {
        value = value * 2 + 1;
        lonMin = mid;
      } else {
        value *= 2;
        lonMax = mid;
      }
    } else {
      const mid = (latMin + latMax) / 2;
      if (lat >= mid) {
        value = value * 2 + 1;
        latMin = mid;
      } else {
        value *= 2;
        latMax = mid;
      }
    }
    evenBit = !evenBit;
    if (++bits === 5) {
      hash += BASE32[value];
      bits = 0;
      value = 0;
    }
  }
  return hash;
}

/** The cell of a geohash: its south-west and north-east corners. */
export function geohashBounds(hash: string): { minLat: number; maxLat: number; minLon: number; maxLon: number } {
  let minLat = -90;
  let maxLat = 90;
  let minLon = -180;
  let maxLon = 180;
  let evenBit = true;
  for (const char of hash) {
    const index = BASE32.indexOf(char);
    if (index < 0) throw new Error(`Not a geohash character: ${char}`);
    for (let bit = 4; bit >= 0; bit--) {
      const on = ((index >> bit) & 1) === 1;
      if (evenBit) {
        const mid = (minLon + maxLon) / 2;
        if (on) minLon = mid;
        else maxLon = mid;
      } else {
        const mid = (minLat + maxLat) / 2;
        if (on) minLat = mid;
        else maxLat = mid;
      }
      evenBit = !evenBit;
    }
  }
  return { minLat, maxLat, minLon, maxLon };
}

/** Great-circle distance (haversine), km. */
export function haversineKm(a: LatLon, b: LatLon): number {
  const rad = Math.PI / 180;
  const dLat = (b.lat - a.lat) * rad;
  const dLon = (b.lon - a.lon) * rad;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_RADIUS_KM * Math.asin(Math.min(1, Math.sqrt(h)));
}

function gridOf(precision: number) {
  const lonBits = Math.ceil((5 * precision) / 2);
  const latBits = Math.floor((5 * precision) / 2);
  return { columns: 2 ** lonBits, rows: 2 ** latBits, width: 360 / 2 ** lonBits, height: 180 / 2 ** latBits };
}

/**
 * The bounding box of a circle on the sphere as latitude and longitude ranges: the exact extremes of the circle
 * (not a flat-earth approximation), widened by a hair for floating point. A circle reaching a pole covers every
 * longitude; one crossing the antimeridian gives two longitude ranges.
 */
export function circleBounds(
  center: LatLon,
  radiusKm: number,
): { lat: [number, number]; lon: Array<[number, number]> } {
  const angular = radiusKm / EARTH_RADIUS_KM;
  const deg = 180 / Math.PI;
  const slack = 1e-9;
  const minLat = center.lat - angular * deg - slack;
  const maxLat = center.lat + angular * deg + slack;
  if (minLat <= -90 || maxLat >= 90) {
    return { lat: [Math.max(minLat, -90), Math.min(maxLat, 90)], lon: [[-180, 180]] };
  }
  const ratio = Math.sin(angular) / Math.cos(center.lat / deg);
  if (ratio >= 1) return { lat: [minLat, maxLat], lon: [[-180, 180]] };
  const dLon = Math.asin(ratio) * deg + slack;
  const west = center.lon - dLon;
  const east = center.lon + dLon;
  if (west < -180) {
    return {
      lat: [minLat, maxLat],
      lon: [
        [west + 360, 180],
        [-180, east],
      ],
    };
  }
  if (east > 180) {
    return {
      lat: [minLat, maxLat],
      lon: [
        [west, 180],
        [-180, east - 360],
      ],
    };
  }
  return { lat: [minLat, maxLat], lon: [[west, east]] };
}

/** Every geohash cell of `precision` that meets the box, sorted. */
export function cellsCovering(bounds: ReturnType<typeof circleBounds>, precision: number): string[] {
  const grid = gridOf(precision);
  const clamp = (i: number, n: number) => Math.min(Math.max(i, 0), n - 1);
  const row = (lat: number) => clamp(Math.floor((lat + 90) / grid.height), grid.rows);
  const column = (lon: number) => clamp(Math.floor((lon + 180) / grid.width), grid.columns);
  const cells = new Set<string>();
  for (let r = row(bounds.lat[0]); r <= row(bounds.lat[1]); r++) {
    for (const [west, east] of bounds.lon) {
      for (let c = column(west); c <= column(east); c++) {
        const center = { lat: -90 + (r + 0.5) * grid.height, lon: -180 + (c + 0.5) * grid.width };
        cells.add(encodeGeohash(center, precision));
      }
    }
  }
  return [...cells].sort();
}

/** How many cells a cover may have before a coarser precision is used. */
const MAX_COVER_CELLS = 32;

/**
 * The cells to query for a circle: the finest precision between `minPrecision` (the index partition's) and
 * `maxPrecision` whose cover has at most MAX_COVER_CELLS cells (finer cells read fewer records outside the circle),
 * or `minPrecision` when even that has more.
 */
export function coverCircle(center: LatLon, radiusKm: number, minPrecision: number, maxPrecision: number): string[] {
  const bounds = circleBounds(center, radiusKm);
  let chosen = cellsCovering(bounds, minPrecision);
  for (let p = minPrecision + 1; p <= maxPrecision; p++) {
    const finer = cellsCovering(bounds, p);
    if (finer.length > MAX_COVER_CELLS) break;
    chosen = finer;
  }
  return chosen;
}
