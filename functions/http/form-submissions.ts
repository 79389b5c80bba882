import { routes } from '../../shared/api/routes.ts';
import { confirmSubmission, preflightSubmission, submitForm } from '../../shared/forms/submissions.ts';
import { httpApi } from '../../shared/http/handler.ts';

/**
 * The public web-to-lead endpoints, on the forms API (no token, no API-level CORS): no tenant quota or settings
 * here; each call is scoped to the tenant its URL names (the form's publicKey, the confirmation token), and
 * submissions are origin-checked and rate limited per source address and form. CORS is answered per form.
 */
export const handler = httpApi(routes, 'formSubmissions', {
  submitForm: async ({ params, body, client }) => {
    const { redirectUrl, cors, ...result } = await submitForm(params.formId, body, client ?? { form: false });
    // A plain HTML form post goes on to the form's page; scripts get JSON.
    if (redirectUrl && client?.form) return { status: 303, headers: { ...cors, location: redirectUrl } };
    return { status: 202, body: result, headers: cors };
  },
  preflightFormSubmission: async ({ params, client }) => ({
    status: 204,
    headers: await preflightSubmission(params.formId, client?.origin),
  }),
  confirmFormSubmission: async ({ params }) => ({ status: 200, body: await confirmSubmission(params.token) }),
});
