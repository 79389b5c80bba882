import { routes } from '../../shared/api/routes.ts';
import { confirmSubmission, submitForm } from '../../shared/forms/submissions.ts';
import { httpApi } from '../../shared/http/handler.ts';

/**
 * The public web-to-lead endpoints: no token, so no tenant quota or settings here; each call is scoped to the tenant
 * its URL names (the form's publicKey, the confirmation token) and rate limited per source address and form.
 */
export const handler = httpApi(routes, 'formSubmissions', {
  submitForm: async ({ params, body, client }) => {
    const { redirectUrl, ...result } = await submitForm(params.formId, body, client ?? { form: false });
    // A plain HTML form post goes on to the form's page; scripts get JSON.
    if (redirectUrl && client?.form) return { status: 303, headers: { location: redirectUrl } };
    return { status: 202, body: result };
  },
  confirmFormSubmission: async ({ params }) => ({ status: 200, body: await confirmSubmission(params.token) }),
});
