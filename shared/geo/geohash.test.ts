import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  circleBounds,
  coverCircle,
  EARTH_RADIUS_KM,
  encodeGeohash,
  geohashBounds,
  haversineKm,
  type LatLon,
} from './geohash.ts';

/** A point `distanceKm` from `from` in direction `bearingDeg` (great circle). */
function destination(from: LatLon, distanceKm: number, bearingDeg: number): LatLon {
  const rad = Math.PI / 180;
  const d = distanceKm / EARTH_RADIUS_KM;
  const lat1 = from.lat * rad;
  const lon1 = from.lon * rad;
  const b = bearingDeg * rad;
  const lat2 = Math.asin(Math.sin(lat1) * Math.cos(d) + Math.cos(lat1) * Math.sin(d) * Math.cos(b));
  const lon2 =
    lon1 + Math.atan2(Math.sin(b) * Math.sin(d) * Math.cos(lat1), Math.cos(d) - Math.sin(lat1) * Math.sin(lat2));
  const lon = ((((lon2 / rad + 180) % 360) + 360) % 360) - 180;
  return { lat: lat2 / rad, lon };
}

/** Every point within the circle must fall in a cell of the cover: checked on the rim, where it is tightest. */
function expectCovered(center: LatLon, radiusKm: number, minPrecision = 3, maxPrecision = 6) {
  const cells = coverCircle(center, radiusKm, minPrecision, maxPrecision);
  const precision = cells[0]!.length;
  const points = [center];
  for (let bearing = 0; bearing < 360; bearing += 2.5) {
    for (const fraction of [0.5, 0.999999]) points.push(destination(center, radiusKm * fraction, bearing));
  }
  for (const point of points) {
    expect(cells, `${JSON.stringify(point)} from ${JSON.stringify(center)} r=${radiusKm}`).toContain(
      encodeGeohash(point, precision),
    );
  }
  return cells;
}

describe('geohash encoding', () => {
  it('matches the reference encoding', () => {
    expect(encodeGeohash({ lat: 57.64911, lon: 10.40744 }, 11)).toBe('u4pruydqqvj');
    expect(encodeGeohash({ lat: 37.8324, lon: 112.5584 }, 9)).toBe('ww8p1r4t8');
    expect(encodeGeohash({ lat: 51.5074, lon: -0.1278 }, 5)).toBe('gcpvj');
  });

  it('puts a point on a cell edge in the cell above and to the right, at the poles and the antimeridian too', () => {
    expect(encodeGeohash({ lat: 0, lon: 0 }, 1)).toBe('s');
    expect(encodeGeohash({ lat: -0.0000001, lon: -0.0000001 }, 1)).toBe('7');
    expect(encodeGeohash({ lat: 90, lon: 180 }, 3)).toBe('zzz');
    expect(encodeGeohash({ lat: -90, lon: -180 }, 3)).toBe('000');
    expect(encodeGeohash({ lat: 0, lon: 180 }, 2)).toBe(encodeGeohash({ lat: 0, lon: 179.999 }, 2));
  });

  it('decodes to the cell that holds the point', () => {
    fc.assert(
      fc.property(
        fc.double({ min: -90, max: 90, noNaN: true }),
        fc.double({ min: -180, max: 180, noNaN: true }),
        fc.integer({ min: 1, max: 9 }),
        (lat, lon, precision) => {
          const box = geohashBounds(encodeGeohash({ lat, lon }, precision));
          expect(lat >= box.minLat && (lat < box.maxLat || box.maxLat === 90)).toBe(true);
          expect(lon >= box.minLon && (lon < box.maxLon || box.maxLon === 180)).toBe(true);
        },
      ),
    );
  });
});

describe('haversine distance', () => {
  it('measures known distances', () => {
    expect(haversineKm({ lat: 51.5074, lon: -0.1278 }, { lat: 48.8566, lon: 2.3522 })).toBeCloseTo(343.5, 0);
    expect(haversineKm({ lat: 0, lon: 179.5 }, { lat: 0, lon: -179.5 })).toBeCloseTo(111.2, 0);
    expect(haversineKm({ lat: 90, lon: 0 }, { lat: 90, lon: 120 })).toBeCloseTo(0, 6);
  });
});

describe('cells covering a circle', () => {
  it('covers a small circle with a few fine cells', () => {
    const cells = expectCovered({ lat: 51.5074, lon: -0.1278 }, 2);
    expect(cells.length).toBeLessThanOrEqual(32);
    expect(cells[0]!.length).toBeGreaterThanOrEqual(5);
  });

  it('covers a circle around a cell corner (four cells meet there)', () => {
    const corner = geohashBounds('gcpv');
    expectCovered({ lat: corner.minLat, lon: corner.minLon }, 0.5);
    expectCovered({ lat: corner.maxLat, lon: corner.maxLon }, 0.01);
  });

  it('splits at the antimeridian, covering both sides', () => {
    const bounds = circleBounds({ lat: -17.7, lon: 179.9 }, 50);
    expect(bounds.lon).toHaveLength(2);
    const cells = expectCovered({ lat: -17.7, lon: 179.9 }, 50);
    expect(cells.some((c) => geohashBounds(c).minLon < 0)).toBe(true);
    expect(cells.some((c) => geohashBounds(c).maxLon > 0)).toBe(true);
    expectCovered({ lat: 65, lon: -179.99 }, 200);
  });

  it('covers every longitude near a pole', () => {
    expect(circleBounds({ lat: 89.5, lon: 10 }, 100).lon).toEqual([[-180, 180]]);
    expect(circleBounds({ lat: -89.9, lon: -170 }, 20).lat[0]).toBe(-90);
    expectCovered({ lat: 89.5, lon: 10 }, 100);
    expectCovered({ lat: -89.99, lon: -170 }, 5);
    expectCovered({ lat: 90, lon: 0 }, 50);
  });

  it('covers the largest radius at the partition precision', () => {
    const cells = expectCovered({ lat: 48.1, lon: 11.6 }, 500);
    expect(cells[0]).toHaveLength(3);
  });

  it('covers any circle (property)', () => {
    fc.assert(
      fc.property(
        fc.double({ min: -90, max: 90, noNaN: true }),
        fc.double({ min: -180, max: 180, noNaN: true }),
        fc.double({ min: 0.01, max: 500, noNaN: true }),
        (lat, lon, radiusKm) => {
          expectCovered({ lat, lon }, radiusKm);
        },
      ),
      { numRuns: 40 },
    );
  });
});
