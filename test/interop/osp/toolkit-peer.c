/*
 * A policy server built on the TransNexus OSP Toolkit (libosptk), used as the reference peer of callgate's
 * clearinghouse: it asks for authorisation, validates the token it got as a terminating side would, and
 * reports usage. One JSON line on stdout per call says what happened.
 *
 * usage: toolkit-peer URL KEY.pem CERT.pem CACERT.pem CALLING CALLED CALLID [both-sides [CALLS]]
 *
 * With "both-sides" the usage carries post-dial delays (the toolkit writes them as decimal seconds, "1.0100")
 * and the terminating side reports its usage too (Role destination), as a terminating gateway would. CALLS
 * calls (default 1) are made one after the other by the same provider, with CallIds CALLID-0, CALLID-1, …
 * (CALLID itself for a single call).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <osp/osp.h>
#include <osp/osputils.h>
#include <osp/osptoken.h>

static void fail(const char *call, const char *step, int code)
{
    printf("{\"ok\":false,\"call\":\"%s\",\"step\":\"%s\",\"error\":%d}\n", call, step, code);
}

/* One call through the provider: 0 when every step succeeded (its JSON line printed either way). */
static int one_call(OSPTPROVHANDLE provider, const char *calling_number, const char *called_number, const char *call, int bothsides)
{
    OSPTTRANHANDLE origin, terminating;
    OSPT_CALL_ID *callid;
    unsigned numdest = 5, detail = 0, timelimit = 0, callidsize, tokensize, authorised = 0, termlimit = 0;
    char validafter[64], validuntil[64], called[256], calling[256], dest[256], destdev[256];
    unsigned char callidbuf[256], token[OSPC_TOKENMAXSIZE];
    int err;
    time_t now = time(NULL);

    /* Originating side: AuthorizationRequest → AuthorizationResponse */
    if ((err = OSPPTransactionNew(provider, &origin)) != OSPC_ERR_NO_ERROR) { fail(call, "transaction", err); return 1; }
    callid = OSPPCallIdNew(strlen(call), (const unsigned char *)call);
    err = OSPPTransactionRequestAuthorisation(origin, "[192.0.2.5]", "[192.0.2.10]", calling_number, OSPC_NFORMAT_E164,
        called_number, OSPC_NFORMAT_E164, NULL, 1, &callid, NULL, &numdest, &detail, NULL);
    if (err != OSPC_ERR_NO_ERROR) { fail(call, "authorise", err); return 1; }
    if (numdest == 0) { fail(call, "no-destination", 0); return 1; }
    callidsize = sizeof(callidbuf);
    tokensize = sizeof(token);
    err = OSPPTransactionGetFirstDestination(origin, sizeof(validafter), validafter, validuntil, &timelimit,
        &callidsize, callidbuf, sizeof(called), called, sizeof(calling), calling, sizeof(dest), dest,
        sizeof(destdev), destdev, &tokensize, token);
    if (err != OSPC_ERR_NO_ERROR) { fail(call, "first-destination", err); return 1; }

    /* Terminating side: validate the token locally (signature against the CA, call binding) */
    if ((err = OSPPTransactionNew(provider, &terminating)) != OSPC_ERR_NO_ERROR) { fail(call, "transaction2", err); return 1; }
    err = OSPPTransactionValidateAuthorisation(terminating, "[192.0.2.5]", dest, "[192.0.2.10]", dest, calling_number,
        OSPC_NFORMAT_E164, called, OSPC_NFORMAT_E164, strlen(call), call, tokensize, token, &authorised,
        &termlimit, &detail, NULL, TOKEN_ALGO_SIGNED);
    if (err != OSPC_ERR_NO_ERROR) { fail(call, "validate", err); return 1; }

    /* Originating side again: UsageIndication → UsageConfirmation; post-dial delay 1010 ms as seen by the
       source, 1234 ms as the destination's provider measured it */
    if (bothsides && (err = OSPPTransactionSetProviderPDD(origin, 1234)) != OSPC_ERR_NO_ERROR) { fail(call, "set-pdd", err); return 1; }
    err = OSPPTransactionReportUsage(origin, 61, now - 61, now, now - 65, now - 61, bothsides, 1010, OSPC_RELEASE_SOURCE,
        NULL, -1, -1, -1, -1, &detail, NULL);
    if (err != OSPC_ERR_NO_ERROR) { fail(call, "report-usage", err); return 1; }
    /* Terminating side: its own UsageIndication (Role destination, the token's TransactionId) */
    if (bothsides) {
        err = OSPPTransactionReportUsage(terminating, 61, now - 61, now, now - 65, now - 61, 1, 1010,
            OSPC_RELEASE_SOURCE, NULL, -1, -1, -1, -1, &detail, NULL);
        if (err != OSPC_ERR_NO_ERROR) { fail(call, "report-usage-terminating", err); return 1; }
    }

    printf("{\"ok\":true,\"call\":\"%s\",\"numdest\":%u,\"destination\":\"%s\",\"called\":\"%s\",\"timelimit\":%u,\"tokensize\":%u,"
        "\"validafter\":\"%s\",\"validuntil\":\"%s\",\"authorised\":%u,\"termlimit\":%u}\n",
        call, numdest, dest, called, timelimit, tokensize, validafter, validuntil, authorised, termlimit);
    OSPPTransactionDelete(origin);
    OSPPTransactionDelete(terminating);
    return 0;
}

int main(int argc, char *argv[])
{
    OSPTPRIVATEKEY key;
    OSPT_CERT localcert, cacert;
    const OSPT_CERT *cacerts[1];
    const char *servicepoints[1];
    unsigned long weights[1] = { 1000 };
    OSPTPROVHANDLE provider;
    char call[300];
    int err, bothsides, calls = 1, i, failed = 0;

    bothsides = argc >= 9 && strcmp(argv[8], "both-sides") == 0;
    if (argc == 10) calls = atoi(argv[9]);
    if (!(argc == 8 || (argc == 9 && bothsides) || (argc == 10 && bothsides && calls > 0))) {
        fprintf(stderr, "usage: %s URL KEY CERT CACERT CALLING CALLED CALLID [both-sides [CALLS]]\n", argv[0]);
        return 2;
    }
    servicepoints[0] = argv[1];
    if ((err = OSPPInit(OSPC_FALSE)) != OSPC_ERR_NO_ERROR) { fail(argv[7], "init", err); return 1; }
    if ((err = OSPPUtilLoadPEMPrivateKey((unsigned char *)argv[2], &key)) != OSPC_ERR_NO_ERROR) { fail(argv[7], "load-key", err); return 1; }
    if ((err = OSPPUtilLoadPEMCert((unsigned char *)argv[3], &localcert)) != OSPC_ERR_NO_ERROR) { fail(argv[7], "load-cert", err); return 1; }
    if ((err = OSPPUtilLoadPEMCert((unsigned char *)argv[4], &cacert)) != OSPC_ERR_NO_ERROR) { fail(argv[7], "load-cacert", err); return 1; }
    cacerts[0] = &cacert;
    /* service points, weights, audit URL, key, cert, CAs, local validation, SSL lifetime, max connections,
       persistence (s), retry delay (s), retry limit, timeout (ms), customer id, device id */
    err = OSPPProviderNew(1, servicepoints, weights, "http://localhost:1234", &key, &localcert, 1, cacerts,
        1, 300, 4, 60, 0, 2, 5000, "", "", &provider);
    if (err != OSPC_ERR_NO_ERROR) { fail(argv[7], "provider", err); return 1; }

    for (i = 0; i < calls; i++) {
        if (calls == 1) snprintf(call, sizeof(call), "%s", argv[7]);
        else snprintf(call, sizeof(call), "%s-%d", argv[7], i);
        if (one_call(provider, argv[5], argv[6], call, bothsides) != 0) failed = 1;
    }
    OSPPProviderDelete(provider, 0);
    OSPPCleanup();
    return failed;
}
