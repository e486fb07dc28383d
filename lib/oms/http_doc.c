/* http_doc.c -- oms_http_respond_doc (http.h), apart from http.c so that the
 * fuzz targets' fake request serves it too. */
#include "http.h"
#include "json.h"

void oms_http_respond_doc(oms_http_request *req, oms_http_response *res, int status, json_t *doc)
{
    if (!oms_json_own(req->arena, doc)) {
        oms_error err;
        oms_error_set(&err, OMS_ENOMEM, NULL, "out of memory");
        oms_http_respond_oms_error(req, res, &err);
        return;
    }
    oms_http_respond_json(req, res, status, doc);
}
