import * as z from 'zod';

/** The largest radius a near-search takes: beyond it a cover has too many cells to page through sensibly. */
export const MAX_RADIUS_KM = 500;

/**
 * Kept to 9 decimals (about 0.1 mm): DynamoDB stores no number smaller in magnitude than 1e-130, and a coordinate
 * needs no more. -0 becomes 0.
 */
const nineDecimals = (degrees: number) => Math.round(degrees * 1e9) / 1e9 + 0;

export const Location = z
  .strictObject({
    lat: z
      .number()
      .min(-90, 'Latitude is between -90 and 90.')
      .max(90, 'Latitude is between -90 and 90.')
      .transform(nineDecimals),
    lon: z
      .number()
      .min(-180, 'Longitude is between -180 and 180.')
      .max(180, 'Longitude is between -180 and 180.')
      .transform(nineDecimals),
  })
  .meta({
    id: 'Location',
    description:
      'WGS 84 coordinates in decimal degrees, e.g. { "lat": 51.5074, "lon": -0.1278 }, kept to 9 decimals. Not geocoded.',
  });
export type LocationView = z.infer<typeof Location>;

const COORDINATES = /^\s*(-?\d{1,3}(?:\.\d{1,12})?)\s*,\s*(-?\d{1,3}(?:\.\d{1,12})?)\s*$/;

/** `?near=lat,lon&radiusKm=R`: one more list filter of contacts and companies, served by the geohash index (gsi7). */
export const nearFilters = (records: string) => ({
  near: z
    .string()
    .max(64)
    .regex(COORDINATES, 'Use "lat,lon" in decimal degrees, e.g. "51.5074,-0.1278".')
    .transform((value) => {
      const [, lat, lon] = COORDINATES.exec(value)!;
      return { lat: Number(lat), lon: Number(lon) };
    })
    .pipe(Location)
    .optional()
    .meta({
      description:
        `The ${records} with a location within radiusKm of this point ("lat,lon"), grouped by geohash cell (not ` +
        'sorted by distance); a page may hold fewer than `limit` items while nextCursor is not null.',
    }),
  radiusKm: z.coerce
    .number()
    .positive('Must be more than 0.')
    .max(MAX_RADIUS_KM, `At most ${MAX_RADIUS_KM} km.`)
    .optional()
    .meta({ description: `With near: the radius in km (at most ${MAX_RADIUS_KM}).` }),
});
