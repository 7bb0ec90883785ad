from django.contrib import admin

from inference.pacs.models import DicomNode, ResultDelivery


@admin.register(DicomNode)
class DicomNodeAdmin(admin.ModelAdmin):
    list_display = ("name", "ae_title", "host", "port", "enabled", "send_after_run")
    list_filter = ("enabled", "send_after_run")


@admin.register(ResultDelivery)
class ResultDeliveryAdmin(admin.ModelAdmin):
    list_display = ("run", "node", "status", "attempts", "sent_at", "updated_at")
    list_filter = ("status", "node")
    readonly_fields = [f.name for f in ResultDelivery._meta.fields]
