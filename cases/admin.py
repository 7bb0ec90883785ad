from django.contrib import admin

from cases.models import Case


@admin.register(Case)
class CaseAdmin(admin.ModelAdmin):
    list_display = ("code", "source", "created_at", "pet_units", "suv_factor")
    readonly_fields = [f.name for f in Case._meta.fields]
