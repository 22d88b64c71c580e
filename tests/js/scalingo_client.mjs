// Drive the unmodified `scalingo` npm client against cf-events and print what it returned, as JSON.
// Usage: node scalingo_client.mjs <api url> <api token> <app id or name>
import { clientFromToken } from "scalingo";

const [apiUrl, apiToken, app] = process.argv.slice(2);

async function caught(promise) {
  try {
    return { value: await promise };
  } catch (error) {
    // The bundle does not export APIError; its status, data and message (data.error) identify it.
    return { error: { message: error.message, status: error.status, data: error.data } };
  }
}

const client = await clientFromToken(apiToken, { apiUrl, authApiUrl: apiUrl, noUserAgent: true });

// Page through the app's events by meta.pagination.next_page, two at a time.
const pages = [];
let page = 1;
while (page) {
  const result = await client.Events.for(app, { page, per_page: 2 });
  pages.push(result);
  page = result.meta.pagination.next_page;
}
const all = await client.Events.all({ per_page: 100 });
const recent = await client.Events.for(app, { from: 72 });
const found = await client.Events.find(app, pages[0].events[0].id);
const missingApp = await caught(client.Events.for("no-such-app"));
const types = await caught(client.Events.listEventTypes());
const categories = await caught(client.Events.listEventCategories());

console.log(JSON.stringify({ pages, all, recent, found, missingApp, types, categories }));
