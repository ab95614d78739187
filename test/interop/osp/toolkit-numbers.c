/*
 * The TransNexus OSP Toolkit's own number writers (ospmsg.c: OSPPMsgNumToElement "%lu", OSPPMsgCodeToElement
 * "%03ld", OSPPMsgFloatToElement "%.4f", OSPPMsgTXToElement for 64-bit transaction ids, OSPPMsgTimeToElement
 * for times), applied to a range of
 * values (a float above ~1e30 overflows the toolkit's own buffer, so none is written). One JSON line per
 * value: {"writer", "given", "text"}; callgate's codec must read every text.
 */
#include <stdio.h>
#include <osp/osp.h>
#include <osp/ospmsg.h>
#include <osp/ospxmlelem.h>

static void line(const char *writer, const char *given, OSPT_XML_ELEM *elem)
{
    printf("{\"writer\":\"%s\",\"given\":\"%s\",\"text\":\"%s\"}\n", writer, given, elem ? OSPPXMLElemGetValue(elem) : "");
    OSPPXMLElemDelete(&elem);
}

int main(void)
{
    static const unsigned long nums[] = { 0, 7, 61, 3600, 4294967295UL, 9007199254740991UL, 9007199254740993UL, 18446744073709551615UL };
    static const float floats[] = { 0.0f, 0.5f, 1.01f, 1.234f, 61.0f, 61.5f, 1234567.0f, -2.5f, 0.00004f, 1e20f };
    static const unsigned long codes[] = { 0, 7, 16, 200, 503, 999 };
    static const OSPTTRXID trxids[] = { 0, 1, 1000, 9223372036854775807LL, (OSPTTRXID)-1 };
    static const OSPTTIME times[] = { 0, 951782400, 1798675200, 2147483647 };
    char given[64];
    OSPT_XML_ELEM *elem;
    unsigned i;

    for (i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
        elem = NULL;
        OSPPMsgNumToElement(nums[i], "N", &elem);
        snprintf(given, sizeof(given), "%lu", nums[i]);
        line("num", given, elem);
    }
    for (i = 0; i < sizeof(floats) / sizeof(floats[0]); i++) {
        elem = NULL;
        OSPPMsgFloatToElement(floats[i], "F", &elem);
        snprintf(given, sizeof(given), "%.9g", (double)floats[i]);
        line("float", given, elem);
    }
    for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
        elem = NULL;
        OSPPMsgCodeToElement(codes[i], "C", &elem);
        snprintf(given, sizeof(given), "%lu", codes[i]);
        line("code", given, elem);
    }
    for (i = 0; i < sizeof(trxids) / sizeof(trxids[0]); i++) {
        elem = NULL;
        OSPPMsgTXToElement(trxids[i], "T", &elem);
        snprintf(given, sizeof(given), "%llu", (unsigned long long)trxids[i]);
        line("transaction-id", given, elem);
    }
    for (i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
        elem = NULL;
        OSPPMsgTimeToElement(times[i], "T", &elem);
        snprintf(given, sizeof(given), "%ld", (long)times[i]);
        line("time", given, elem);
    }
    return 0;
}
