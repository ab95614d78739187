/*
 * A policy server built on the TransNexus OSP Toolkit (libosptk), used as the reference peer of callgate's
 * clearinghouse: it asks for authorisation, validates the token it got as a terminating side would, and
 * reports usage. One JSON line on stdout says what happened.
 *
 * usage: toolkit-peer URL KEY.pem CERT.pem CACERT.pem CALLING CALLED CALLID [both-sides]
 *
 * With "both-sides" the usage carries post-dial delays (the toolkit writes them as decimal seconds, "1.0100")
 * and the terminating side reports its usage too (Role destination), as a terminating gateway would.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <osp/osp.h>
#include <osp/osputils.h>
#include <osp/osptoken.h>

static void fail(const char *step, int code)
{
    printf("{\"ok\":false,\"step\":\"%s\",\"error\":%d}\n", step, code);
}

int main(int argc, char *argv[])
{
    OSPTPRIVATEKEY key;
    OSPT_CERT localcert, cacert;
    const OSPT_CERT *cacerts[1];
    const char *servicepoints[1];
    unsigned long weights[1] = { 1000 };
    OSPTPROVHANDLE provider;
    OSPTTRANHANDLE origin, terminating;
    OSPT_CALL_ID *callid;
    unsigned numdest = 5, detail = 0, timelimit = 0, callidsize, tokensize, authorised = 0, termlimit = 0;
    char validafter[64], validuntil[64], called[256], calling[256], dest[256], destdev[256];
    unsigned char callidbuf[256], token[OSPC_TOKENMAXSIZE];
    int err, bothsides;
    time_t now = time(NULL);

    if (argc != 8 && !(argc == 9 && strcmp(argv[8], "both-sides") == 0)) {
        fprintf(stderr, "usage: %s URL KEY CERT CACERT CALLING CALLED CALLID [both-sides]\n", argv[0]);
        return 2;
    }
    bothsides = argc == 9;
    servicepoints[0] = argv[1];
    if ((err = OSPPInit(OSPC_FALSE)) != OSPC_ERR_NO_ERROR) { fail("init", err); return 1; }
    if ((err = OSPPUtilLoadPEMPrivateKey((unsigned char *)argv[2], &key)) != OSPC_ERR_NO_ERROR) { fail("load-key", err); return 1; }
    if ((err = OSPPUtilLoadPEMCert((unsigned char *)argv[3], &localcert)) != OSPC_ERR_NO_ERROR) { fail("load-cert", err); return 1; }
    if ((err = OSPPUtilLoadPEMCert((unsigned char *)argv[4], &cacert)) != OSPC_ERR_NO_ERROR) { fail("load-cacert", err); return 1; }
    cacerts[0] = &cacert;
    /* service points, weights, audit URL, key, cert, CAs, local validation, SSL lifetime, max connections,
       persistence (s), retry delay (s), retry limit, timeout (ms), customer id, device id */
    err = OSPPProviderNew(1, servicepoints, weights, "http://localhost:1234", &key, &localcert, 1, cacerts,
        1, 300, 4, 60, 0, 2, 5000, "", "", &provider);
    if (err != OSPC_ERR_NO_ERROR) { fail("provider", err); return 1; }

    /* Originating side: AuthorizationRequest → AuthorizationResponse */
    if ((err = OSPPTransactionNew(provider, &origin)) != OSPC_ERR_NO_ERROR) { fail("transaction", err); return 1; }
    callid = OSPPCallIdNew(strlen(argv[7]), (const unsigned char *)argv[7]);
    err = OSPPTransactionRequestAuthorisation(origin, "[192.0.2.5]", "[192.0.2.10]", argv[5], OSPC_NFORMAT_E164,
        argv[6], OSPC_NFORMAT_E164, NULL, 1, &callid, NULL, &numdest, &detail, NULL);
    if (err != OSPC_ERR_NO_ERROR) { fail("authorise", err); return 1; }
    if (numdest == 0) { fail("no-destination", 0); return 1; }
    callidsize = sizeof(callidbuf);
    tokensize = sizeof(token);
    err = OSPPTransactionGetFirstDestination(origin, sizeof(validafter), validafter, validuntil, &timelimit,
        &callidsize, callidbuf, sizeof(called), called, sizeof(calling), calling, sizeof(dest), dest,
        sizeof(destdev), destdev, &tokensize, token);
    if (err != OSPC_ERR_NO_ERROR) { fail("first-destination", err); return 1; }

    /* Terminating side: validate the token locally (signature against the CA, call binding) */
    if ((err = OSPPTransactionNew(provider, &terminating)) != OSPC_ERR_NO_ERROR) { fail("transaction2", err); return 1; }
    err = OSPPTransactionValidateAuthorisation(terminating, "[192.0.2.5]", dest, "[192.0.2.10]", dest, argv[5],
        OSPC_NFORMAT_E164, called, OSPC_NFORMAT_E164, strlen(argv[7]), argv[7], tokensize, token, &authorised,
        &termlimit, &detail, NULL, TOKEN_ALGO_SIGNED);
    if (err != OSPC_ERR_NO_ERROR) { fail("validate", err); return 1; }

    /* Originating side again: UsageIndication → UsageConfirmation; post-dial delay 1010 ms as seen by the
       source, 1234 ms as the destination's provider measured it */
    if (bothsides && (err = OSPPTransactionSetProviderPDD(origin, 1234)) != OSPC_ERR_NO_ERROR) { fail("set-pdd", err); return 1; }
    err = OSPPTransactionReportUsage(origin, 61, now - 61, now, now - 65, now - 61, bothsides, 1010, OSPC_RELEASE_SOURCE,
        NULL, -1, -1, -1, -1, &detail, NULL);
    if (err != OSPC_ERR_NO_ERROR) { fail("report-usage", err); return 1; }
    /* Terminating side: its own UsageIndication (Role destination, the token's TransactionId) */
    if (bothsides) {
        err = OSPPTransactionReportUsage(terminating, 61, now - 61, now, now - 65, now - 61, 1, 1010,
            OSPC_RELEASE_SOURCE, NULL, -1, -1, -1, -1, &detail, NULL);
        if (err != OSPC_ERR_NO_ERROR) { fail("report-usage-terminating", err); return 1; }
    }

    printf("{\"ok\":true,\"numdest\":%u,\"destination\":\"%s\",\"called\":\"%s\",\"timelimit\":%u,\"tokensize\":%u,"
        "\"validafter\":\"%s\",\"validuntil\":\"%s\",\"authorised\":%u,\"termlimit\":%u}\n",
        numdest, dest, called, timelimit, tokensize, validafter, validuntil, authorised, termlimit);
    OSPPTransactionDelete(origin);
    OSPPTransactionDelete(terminating);
    OSPPProviderDelete(provider, 0);
    OSPPCleanup();
    return 0;
}
