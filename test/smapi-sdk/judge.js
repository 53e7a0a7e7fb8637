// The vendor's SMAPI SDK as the judge of the emulator's in-skill product
// routes. Run by cmd/bulksync's TestSMAPISDK (go test), never by hand:
//
//   node judge.js drive API_URL   create, list page by page, associate, list a
//                                 product's skills, disassociate, update, delete,
//                                 error cases; prints {"products":[…],"skills":[…]}
//   node judge.js check API_URL SKILL…
//                                 prints {"SKILL":[productId…]} read through the SDK
//
// Every answer goes through the SDK's own client (its LWA token call at
// /auth/O2/token included) and is then checked against the Swagger model the
// SDK ships (ask-smapi-model/spec.json): documented status, body of the
// documented schema (types, enums, required fields, no field the model does
// not know), ETag where the model promises one. Any drift exits 1.
'use strict';

const Alexa = require('ask-smapi-sdk');
const spec = require('ask-smapi-model/spec.json');

const [mode, apiURL, ...skillArgs] = process.argv.slice(2);
const smapi = new Alexa.CustomSmapiClientBuilder()
    .withApiEndpoint(apiURL)
    .withAuthEndpoint(apiURL)
    .withRefreshTokenConfig({
        clientId: process.env.LWA_CLIENT_ID,
        clientSecret: process.env.LWA_CLIENT_SECRET,
        refreshToken: process.env.LWA_REFRESH_TOKEN,
    })
    .client();

const problems = [];

function resolve(schema) {
    while (schema && schema.$ref) {
        schema = spec.definitions[schema.$ref.replace('#/definitions/', '')];
    }
    return schema;
}

// validate checks value against a Swagger 2.0 schema of the model.
function validate(schema, value, where) {
    schema = resolve(schema);
    if (!schema) {
        problems.push(`${where}: no schema in the model`);
        return;
    }
    if (schema.enum) { // the model's StageType is an "object" with string values
        if (!schema.enum.includes(value)) problems.push(`${where}: ${JSON.stringify(value)} is not one of ${schema.enum}`);
        return;
    }
    const props = Object.assign({}, schema.properties || {});
    for (const part of schema.allOf || []) Object.assign(props, (resolve(part) || {}).properties || {});
    const type = schema.type || (Object.keys(props).length ? 'object' : undefined);
    switch (type) {
    case 'object': {
        if (typeof value !== 'object' || value === null || Array.isArray(value)) {
            problems.push(`${where}: want an object, got ${JSON.stringify(value)}`);
            return;
        }
        for (const r of schema.required || []) {
            if (!(r in value)) problems.push(`${where}: required field ${r} is missing`);
        }
        for (const [k, v] of Object.entries(value)) {
            if (props[k]) validate(props[k], v, `${where}.${k}`);
            else if (schema.additionalProperties) validate(schema.additionalProperties, v, `${where}.${k}`);
            else problems.push(`${where}: field ${k} is not in the model`);
        }
        return;
    }
    case 'array':
        if (!Array.isArray(value)) problems.push(`${where}: want an array, got ${JSON.stringify(value)}`);
        else value.forEach((v, i) => validate(schema.items, v, `${where}[${i}]`));
        return;
    case 'string':
        if (typeof value !== 'string') problems.push(`${where}: want a string, got ${JSON.stringify(value)}`);
        else if (schema.format === 'date-time' && isNaN(Date.parse(value))) problems.push(`${where}: ${value} is not a date-time`);
        return;
    case 'integer':
        if (!Number.isInteger(value)) problems.push(`${where}: want an integer, got ${JSON.stringify(value)}`);
        return;
    case 'number':
        if (typeof value !== 'number') problems.push(`${where}: want a number, got ${JSON.stringify(value)}`);
        return;
    case 'boolean':
        if (typeof value !== 'boolean') problems.push(`${where}: want a boolean, got ${JSON.stringify(value)}`);
        return;
    }
}

function header(headers, name) {
    const h = (headers || []).find((x) => x.key.toLowerCase() === name.toLowerCase());
    return h && h.value;
}

// judged checks one answer (an SDK response, or the error it threw) against
// the operation's documented answers.
function judged(method, path, status, headers, body, where) {
    const op = spec.paths[path] && spec.paths[path][method.toLowerCase()];
    if (!op) throw new Error(`${where}: ${method} ${path} is not in the model`);
    const documented = op.responses[String(status)];
    if (!documented) {
        problems.push(`${where}: status ${status} is not documented for ${method} ${path}`);
        return;
    }
    if (documented.schema) validate(documented.schema, body, `${where} (${status})`);
    else if (body !== undefined) problems.push(`${where}: ${status} documents no body, got ${JSON.stringify(body)}`);
    for (const h of Object.keys(documented.headers || {})) {
        if (h !== 'Content-Type' && !header(headers, h)) problems.push(`${where}: header ${h} is missing`);
    }
}

// call makes one SDK call (its call… form, which keeps status and headers)
// and judges the answer; an error answer is judged too, and returned.
async function call(where, method, path, fn, wantStatus) {
    let status, headers, body;
    try {
        const res = await fn();
        ({ statusCode: status, headers, body } = res);
    } catch (err) {
        if (err.name !== 'ServiceError') throw new Error(`${where}: the SDK failed: ${err.message}`);
        ({ statusCode: status, headers, response: body } = err);
    }
    judged(method, path, status, headers, body, where);
    if (wantStatus && status !== wantStatus) problems.push(`${where}: status ${status}, want ${wantStatus}`);
    return { status, headers, body };
}

const P = {
    list: '/v1/inSkillProducts',
    one: '/v1/inSkillProducts/{productId}/stages/{stage}',
    summary: '/v1/inSkillProducts/{productId}/stages/{stage}/summary',
    skills: '/v1/inSkillProducts/{productId}/stages/{stage}/skills',
    assoc: '/v1/inSkillProducts/{productId}/skills/{skillId}',
    skillList: '/v1/skills/{skillId}/stages/{stage}/inSkillProducts',
};

// pages follows a list to its end, one page (of max) per call.
async function pages(where, path, fetch, items) {
    const out = [];
    let token;
    for (let n = 1; n <= 100; n++) {
        const { status, body } = await call(`${where} page ${n}`, 'GET', path, () => fetch(token), 200);
        if (status !== 200) return out;
        const list = body.inSkillProductSummaryList || body;
        out.push(...items(list));
        if (!list.isTruncated) return out;
        if (!list.nextToken) {
            problems.push(`${where} page ${n}: isTruncated without nextToken`);
            return out;
        }
        token = list.nextToken;
    }
    problems.push(`${where}: more than 100 pages`);
    return out;
}

const ids = (list) => (list.inSkillProducts || []).map((p) => p.productId);

function definition(ref) {
    return {
        version: '1.0', type: 'ENTITLEMENT', referenceName: ref, purchasableState: 'PURCHASABLE',
        publishingInformation: {
            locales: { 'en-US': { name: ref, summary: 'Judged by the SDK', description: 'A product of the SDK test.' } },
            distributionCountries: ['US'],
            pricing: { 'amazon.com': { releaseDate: '2024-01-01T00:00:00Z', defaultPriceListing: { price: 0.99, currency: 'USD' } } },
        },
        testingInstructions: 'none',
    };
}

async function drive() {
    const vendor = 'M1SDKJUDGE';
    const skills = ['amzn1.ask.skill.5d000001-0000-4000-8000-000000000001', 'amzn1.ask.skill.5d000002-0000-4000-8000-000000000002'];
    const products = [];
    for (const ref of ['sdk-gold', 'sdk-silver', 'sdk-bronze']) {
        const { body } = await call(`create ${ref}`, 'POST', P.list,
            () => smapi.callCreateIspForVendorV1({ vendorId: vendor, inSkillProductDefinition: definition(ref) }), 201);
        products.push(body.productId);
    }
    const [gold, silver, bronze] = products;
    const got = await call('get definition', 'GET', P.one, () => smapi.callGetIspDefinitionV1(gold, 'development'), 200);
    const etag = header(got.headers, 'ETag');
    await call('get summary', 'GET', P.summary, () => smapi.callGetIspSummaryV1(gold, 'development'), 200);
    const listed = await pages('vendor list', P.list, (t) => smapi.callGetIspListForVendorV1(vendor, t, 2), ids);
    if (listed.length !== 3) problems.push(`vendor list: ${listed.length} products, want 3`);

    for (const p of [gold, silver]) {
        for (const s of skills) await call(`associate ${p} ${s}`, 'PUT', P.assoc, () => smapi.callAssociateIspWithSkillV1(p, s), 204);
    }
    const ofSkill = await pages('skill list', P.skillList, (t) => smapi.callGetIspListForSkillIdV1(skills[0], 'development', t, 1), ids);
    if (ofSkill.slice().sort().join() !== [gold, silver].sort().join()) problems.push(`skill list: ${ofSkill}, want gold and silver`);
    const ofGold = await pages('product skills', P.skills, (t) => smapi.callGetIspAssociatedSkillsV1(gold, 'development', t, 1),
        (l) => l.associatedSkillIds || []);
    if (ofGold.join() !== skills.join()) problems.push(`product skills: ${ofGold}, want ${skills}`);
    await call('disassociate', 'DELETE', P.assoc, () => smapi.callDisassociateIspWithSkillV1(silver, skills[1]), 204);
    const left = await pages('skill list after', P.skillList, (t) => smapi.callGetIspListForSkillIdV1(skills[1], 'development', t), ids);
    if (left.join() !== gold) problems.push(`after disassociate: ${left}, want only gold`);

    await call('update', 'PUT', P.one, () => smapi.callUpdateIspForProductV1(gold, 'development',
        { inSkillProductDefinition: definition('sdk-gold') }, etag), 204);
    await call('delete', 'DELETE', P.one, () => smapi.callDeleteIspForProductV1(bronze, 'development'), 204);

    // Errors: each in the model's shape for its status.
    await call('update, stale etag', 'PUT', P.one, () => smapi.callUpdateIspForProductV1(gold, 'development',
        { inSkillProductDefinition: definition('sdk-gold') }, etag), 412);
    await call('delete, associated', 'DELETE', P.one, () => smapi.callDeleteIspForProductV1(gold, 'development'), 403);
    await call('get, deleted', 'GET', P.one, () => smapi.callGetIspDefinitionV1(bronze, 'development'), 404);
    await call('list, maxResults 101', 'GET', P.skillList, () => smapi.callGetIspListForSkillIdV1(skills[0], 'development', undefined, 101), 400);
    await call('create, no type', 'POST', P.list, () => smapi.callCreateIspForVendorV1({ vendorId: vendor, inSkillProductDefinition: { referenceName: 'x' } }), 400);
    return { products: [gold, silver], skills };
}

async function check() {
    const out = {};
    for (const s of skillArgs) {
        out[s] = (await pages(`check ${s}`, P.skillList, (t) => smapi.callGetIspListForSkillIdV1(s, 'development', t), ids)).sort();
    }
    return out;
}

(mode === 'drive' ? drive() : check()).then((result) => {
    if (problems.length) {
        console.error(`the emulator drifted from the SDK's model:\n  ${problems.join('\n  ')}`);
        process.exit(1);
    }
    console.log(JSON.stringify(result));
}, (err) => {
    console.error(err.stack || String(err));
    process.exit(1);
});
